// DartsTrie: a read-only, bounds-checked view of a darts-clone double-array
// trie, the format SentencePiece stores in precompiled_charsmap.
//
// Layout: an array of little-endian uint32 units. A unit holds a label (low 8
// bits, plus bit 31 for value units), a has_leaf flag (bit 8) and an offset
// (bits 10..31, scaled by 256 when bit 9 is set). From node `p` with unit `u`,
// the child for byte `c` sits at `p ^ offset(u) ^ c`; a node whose unit has
// has_leaf keeps its value in the unit at `p ^ offset(u)`.
//
// Invariant: every lookup stays inside the array; an index past its end is
// treated as "no such child", so a corrupt trie can give wrong matches but
// never reads out of bounds. Immutable and thread-safe after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "keel/core/result.h"

namespace keel::tokenizer::spm {

class DartsTrie {
 public:
  DartsTrie() = default;
  // `bytes` must hold a whole number of 4-byte units; DataLoss otherwise.
  static Result<DartsTrie> from_bytes(std::string_view bytes);

  bool empty() const { return units_.empty(); }
  size_t num_units() const { return units_.size(); }

  // Calls visit(length, value) for every key that is a prefix of `key`,
  // shortest first, like darts-clone's commonPrefixSearch. `visit` returns
  // false to stop early. When `stop_at_nul` is set the walk ends at a NUL
  // byte (HF's spm_precompiled does this; libsentencepiece does not).
  template <typename Visit>
  void common_prefix_search(std::string_view key, bool stop_at_nul, Visit&& visit) const {
    if (units_.empty()) return;
    size_t node = offset(units_[0]);
    for (size_t i = 0; i < key.size(); ++i) {
      const auto c = static_cast<unsigned char>(key[i]);
      if (stop_at_nul && c == 0) return;
      node ^= c;
      if (node >= units_.size()) return;
      const uint32_t unit = units_[node];
      if (label(unit) != c) return;
      node ^= offset(unit);
      if (has_leaf(unit)) {
        if (node >= units_.size()) return;
        if (!visit(i + 1, value(units_[node]))) return;
      }
    }
  }

  // Whether some key starts with `prefix` (non-empty).
  bool has_prefix(std::string_view prefix) const {
    if (units_.empty()) return false;
    size_t node = offset(units_[0]);
    for (const char ch : prefix) {
      const auto c = static_cast<unsigned char>(ch);
      node ^= c;
      if (node >= units_.size()) return false;
      const uint32_t unit = units_[node];
      if (label(unit) != c) return false;
      node ^= offset(unit);
    }
    return true;
  }

 private:
  static bool has_leaf(uint32_t u) { return ((u >> 8) & 1) != 0; }
  static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
  static size_t offset(uint32_t u) { return size_t{u >> 10} << ((u & (1u << 9)) >> 6); }

  std::vector<uint32_t> units_;
};

}  // namespace keel::tokenizer::spm
