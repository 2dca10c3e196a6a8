#include "keel/backend/rope.h"

#include <cmath>
#include <numbers>

namespace keel::backend {

Result<std::vector<float>> rope_inv_freq(const RopeConfig& c, int64_t seq_len) {
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) {
    return InvalidArgumentError("rope head_dim must be positive and even, got {}", c.head_dim);
  }
  if (!(c.theta > 0)) return InvalidArgumentError("rope theta must be > 0, got {}", c.theta);
  if (c.scaling != RopeScalingType::kNone && !(c.factor > 0)) {
    return InvalidArgumentError("rope scaling factor must be > 0, got {}", c.factor);
  }
  const int half = c.head_dim / 2;
  const double dim = c.head_dim;
  double base = c.theta;
  if (c.scaling == RopeScalingType::kDynamicNtk && seq_len > c.original_max_positions) {
    const double ratio = c.factor * static_cast<double>(seq_len) /
                             static_cast<double>(c.original_max_positions) -
                         (c.factor - 1.0);
    base = c.theta * std::pow(ratio, dim / (dim - 2.0));
  }
  std::vector<double> inv(half);
  for (int i = 0; i < half; ++i) inv[i] = 1.0 / std::pow(base, (2.0 * i) / dim);

  if (c.scaling == RopeScalingType::kLinear) {
    for (double& f : inv) f /= c.factor;
  } else if (c.scaling == RopeScalingType::kLlama3) {
    if (!(c.high_freq_factor > c.low_freq_factor) || c.original_max_positions <= 0) {
      return InvalidArgumentError(
          "llama3 rope_scaling needs high_freq_factor > low_freq_factor and "
          "original_max_position_embeddings > 0");
    }
    const double old_len = static_cast<double>(c.original_max_positions);
    const double low_freq_wavelen = old_len / c.low_freq_factor;
    const double high_freq_wavelen = old_len / c.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen < high_freq_wavelen) continue;  // high frequency: unchanged
      if (wavelen > low_freq_wavelen) {
        f /= c.factor;
        continue;
      }
      const double smooth =
          (old_len / wavelen - c.low_freq_factor) / (c.high_freq_factor - c.low_freq_factor);
      f = (1.0 - smooth) * f / c.factor + smooth * f;
    }
  }
  return std::vector<float>(inv.begin(), inv.end());
}

Result<RopeTable> RopeTable::create(const std::vector<float>& inv_freq, int64_t max_positions) {
  if (inv_freq.empty() || max_positions <= 0) {
    return InvalidArgumentError("rope table needs inv_freq and max_positions > 0");
  }
  RopeTable t;
  t.max_positions_ = max_positions;
  t.half_ = static_cast<int64_t>(inv_freq.size());
  t.cos_.resize(static_cast<size_t>(max_positions * t.half_));
  t.sin_.resize(t.cos_.size());
  for (int64_t p = 0; p < max_positions; ++p) {
    for (int64_t i = 0; i < t.half_; ++i) {
      const double angle = static_cast<double>(p) * static_cast<double>(inv_freq[i]);
      t.cos_[p * t.half_ + i] = static_cast<float>(std::cos(angle));
      t.sin_[p * t.half_ + i] = static_cast<float>(std::sin(angle));
    }
  }
  return t;
}

}  // namespace keel::backend
