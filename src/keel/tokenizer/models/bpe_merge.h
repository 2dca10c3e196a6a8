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
