// The BPE merge loop over a word's symbol ids.
//
// Contract (HF Word::merge_all without dropout): repeatedly merge the
// adjacent pair with the lowest rank, the leftmost one among equal ranks,
// until no adjacent pair has a merge. Two implementations with identical
// results: a scan over a compact array (fast for the short words of real
// text) and HF's heap over a linked list (O(n log n) for long words);
// apply_merges picks by length. Thread-safe: all state is in `scratch`.
#pragma once

#include <cstdint>
#include <vector>

#include "keel/tokenizer/models/flat_tables.h"

namespace keel::tokenizer::models_internal {

struct MergeScratch {
  std::vector<uint32_t> ranks, merged;
  std::vector<uint32_t> sym_lens;  // heap variant with lengths only
  struct Symbol {
    uint32_t id;
    int32_t prev, next;
    bool alive;
  };
  struct Candidate {
    uint32_t rank, pos, merged;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

// Words up to this many symbols use the scan.
inline constexpr size_t kMergeScanMaxSymbols = 64;

// The scan's state for one word, in caller-owned arrays: id[n] symbols,
// rank[n - 1] and merged[n - 1] for each adjacent pair (rank[i] is the pair
// id[i], id[i + 1]), and with kLens lens[n]. Pair entries [lo, hi) are not
// looked up yet: step() looks them up, merges the best pair, and leaves the
// (at most two) pairs around the merged symbol pending with their table
// slots prefetched. Each step's lookups depend on the step before, so one
// word waits a memory latency per merge; MergeBatch runs several words'
// steps in turn so that those waits overlap.
template <bool kLens>
struct ScanWord {
  uint32_t* id;
  uint32_t* rank;
  uint32_t* merged;
  uint32_t* lens;  // kLens only
  size_t n;
  size_t lo = 0, hi = 0;

  // Marks every pair pending and prefetches their slots.
  void start(const PairMap& merges);
  // One merge; false (and nothing changed) when no adjacent pair merges.
  bool step(const PairMap& merges);
};

// The merges of up to kMaxWords words of 2..kMergeScanMaxSymbols symbols,
// run in lockstep (round-robin steps). Results equal apply_merges_scan's.
// Add words, run(), read result(w), clear(). Not thread-safe: one per thread.
class MergeBatch {
 public:
  static constexpr size_t kMaxWords = 8;

  bool full() const { return count_ == kMaxWords; }
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // Copies the word in and starts its table loads; requires !full() and
  // 2 <= ids.size() <= kMergeScanMaxSymbols.
  void add(const PairMap& merges, const std::vector<uint32_t>& ids);
  void run(const PairMap& merges);
  const uint32_t* result(size_t w) const { return words_[w].id; }
  size_t result_size(size_t w) const { return words_[w].n; }
  void clear() { count_ = 0; }

 private:
  struct Storage {
    uint32_t id[kMergeScanMaxSymbols], rank[kMergeScanMaxSymbols],
        merged[kMergeScanMaxSymbols];
  };
  Storage storage_[kMaxWords];
  ScanWord<false> words_[kMaxWords];
  size_t count_ = 0;
};

// With `lens` (one per symbol; offsets mode), a merged symbol's length is
// the sum of its parts' (kLens = true); the merges are the same.
template <bool kLens>
void apply_merges_scan(const PairMap& merges, std::vector<uint32_t>& ids,
                       std::vector<uint32_t>* lens, MergeScratch& scratch);
template <bool kLens>
void apply_merges_heap(const PairMap& merges, std::vector<uint32_t>& ids,
                       std::vector<uint32_t>* lens, MergeScratch& scratch);

inline void apply_merges_scan(const PairMap& merges, std::vector<uint32_t>& ids,
                              MergeScratch& scratch) {
  apply_merges_scan<false>(merges, ids, nullptr, scratch);
}
inline void apply_merges_heap(const PairMap& merges, std::vector<uint32_t>& ids,
                              MergeScratch& scratch) {
  apply_merges_heap<false>(merges, ids, nullptr, scratch);
}

inline void apply_merges(const PairMap& merges, std::vector<uint32_t>& ids,
                         MergeScratch& scratch) {
  if (ids.size() < 2) return;
  if (ids.size() <= kMergeScanMaxSymbols) {
    apply_merges_scan<false>(merges, ids, nullptr, scratch);
  } else {
    apply_merges_heap<false>(merges, ids, nullptr, scratch);
  }
}

inline void apply_merges_with_lengths(const PairMap& merges, std::vector<uint32_t>& ids,
                                      std::vector<uint32_t>& lens, MergeScratch& scratch) {
  if (ids.size() < 2) return;
  if (ids.size() <= kMergeScanMaxSymbols) {
    apply_merges_scan<true>(merges, ids, &lens, scratch);
  } else {
    apply_merges_heap<true>(merges, ids, &lens, scratch);
  }
}

}  // namespace keel::tokenizer::models_internal
