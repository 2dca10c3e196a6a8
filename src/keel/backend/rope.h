// Rotary position embedding: inverse frequencies (with HF rope_scaling
// variants) and precomputed cos/sin tables.
//
// Layout is HF "rotate_half": a head of `head_dim` values is two halves
// (x1 = x[0:half], x2 = x[half:]) rotated pairwise by angle pos * inv_freq[i]:
//   out[i]        = x1[i] * cos - x2[i] * sin
//   out[i + half] = x2[i] * cos + x1[i] * sin
// Thread-safety: RopeTable is immutable after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "keel/core/result.h"

namespace keel::backend {

enum class RopeScalingType { kNone, kLinear, kDynamicNtk, kLlama3 };

struct RopeConfig {
  int head_dim = 0;  // rotary dims (even)
  double theta = 10000.0;
  RopeScalingType scaling = RopeScalingType::kNone;
  double factor = 1.0;  // linear / dynamic / llama3
  // llama3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // llama3 and dynamic NTK: original_max_position_embeddings (llama3) or
  // max_position_embeddings (dynamic).
  int64_t original_max_positions = 8192;
};

// inv_freq (head_dim / 2) for `config`. `seq_len` matters only for dynamic
// NTK, which rescales the base once seq_len exceeds original_max_positions
// (HF `_compute_dynamic_ntk_parameters`).
Result<std::vector<float>> rope_inv_freq(const RopeConfig& config, int64_t seq_len = 0);

class RopeTable {
 public:
  // cos/sin for positions [0, max_positions), computed in double.
  static Result<RopeTable> create(const std::vector<float>& inv_freq, int64_t max_positions);

  int64_t max_positions() const { return max_positions_; }
  int64_t half() const { return half_; }
  const float* cos_row(int64_t pos) const { return cos_.data() + pos * half_; }  // (half)
  const float* sin_row(int64_t pos) const { return sin_.data() + pos * half_; }  // (half)

 private:
  int64_t max_positions_ = 0;
  int64_t half_ = 0;
  std::vector<float> cos_;  // (max_positions, half)
  std::vector<float> sin_;  // (max_positions, half)
};

}  // namespace keel::backend
