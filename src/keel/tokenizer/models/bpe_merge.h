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

// Several words merged at once (apply_merges_batch): each word's symbols,
// pair ranks and merge results back to back in `ids`/`ranks`/`merged`.
struct MergeBatch {
  struct Word {
    uint32_t begin;   // into ids/ranks/merged
    uint32_t n;       // symbols left
    uint32_t lo, hi;  // pair positions [lo, hi) to look up before the next step
    bool done;
  };
  std::vector<uint32_t> ids, ranks, merged;
  std::vector<Word> words;
  void clear() {
    ids.clear();
    words.clear();
  }
  // After apply_merges_batch, word k's tokens are ids[begin, begin + n).
  // Adds the word whose symbols are ids[begin, end()) (at least two).
  void begin_word(size_t begin) {
    const auto n = static_cast<uint32_t>(ids.size() - begin);
    words.push_back(Word{static_cast<uint32_t>(begin), n, 0, n - 1, false});
  }
};

// Merges every word of `batch` exactly as apply_merges_scan would, taking
// one merge step of each word in turn: a step's pair lookups (cache misses
// in a table of several MiB) are prefetched at the end of that word's
// previous step, so the misses of different words overlap instead of each
// merge waiting for its own. Words must have 2..kMergeScanMaxSymbols symbols.
void apply_merges_batch(const PairMap& merges, MergeBatch& batch);

// Words up to this many symbols use the scan.
inline constexpr size_t kMergeScanMaxSymbols = 64;

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
