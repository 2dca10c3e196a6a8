// How much normalizers and decoders may grow a text.
//
// A Replace inserts its content at every match, and an empty pattern matches
// between every two characters, so each Replace in a Sequence multiplies the
// length by up to its content's length plus one: four Replaces of 200-byte
// contents turn an 11-byte text into 18 GB (found by fuzz/tokenizer_json_fuzz;
// HF tokenizers runs out of memory). keel bounds it instead: a Replace, and a
// Sequence of normalizers or decoders as a whole, may output at most
// kMaxGrowthFactor times its input plus kGrowthSlackBytes; past that the
// encode or decode fails with ResourceExhausted naming the stage. Real
// tokenizers stay far below (Llama 2's Replace of " " by "▁" triples a text of
// spaces; NFKD grows an Arabic ligature 11x). Nested Sequences are flattened
// when loaded, so the bound holds for the whole chain, not once per level.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "keel/core/status.h"

namespace keel::tokenizer {

inline constexpr size_t kMaxGrowthFactor = 64;
inline constexpr size_t kGrowthSlackBytes = 4096;

// The most bytes a stage may output for `in_bytes` of input.
inline size_t max_grown_size(size_t in_bytes) {
  size_t limit = 0;
  if (__builtin_mul_overflow(in_bytes, kMaxGrowthFactor, &limit) ||
      __builtin_add_overflow(limit, kGrowthSlackBytes, &limit)) {
    return SIZE_MAX;
  }
  return limit;
}

// ResourceExhausted naming `stage` if `out_bytes` exceeds max_grown_size(in_bytes).
inline Status check_growth(std::string_view stage, size_t in_bytes, size_t out_bytes) {
  if (out_bytes <= max_grown_size(in_bytes)) return OkStatus();
  return ResourceExhaustedError(
      "{} grows a {}-byte text to {} bytes, more than keel's limit of {}x + {} bytes (a Replace "
      "with an empty or short pattern and a long content, repeated, grows text without bound)",
      stage, in_bytes, out_bytes, kMaxGrowthFactor, kGrowthSlackBytes);
}

}  // namespace keel::tokenizer
