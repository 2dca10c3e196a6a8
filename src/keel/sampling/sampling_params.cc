#include "keel/sampling/sampling_params.h"

#include <cmath>
#include <limits>

namespace keel::sampling {

bool is_greedy(const SamplingParams& params) {
  return params.temperature < kGreedyTemperature;
}

Status validate(const SamplingParams& p, int64_t vocab_size) {
  if (vocab_size < 1 || vocab_size > std::numeric_limits<int32_t>::max()) {
    return InvalidArgumentError(
        "vocab_size must be in [1, 2147483647], got {}; pass the number of logits the "
        "model produces per step",
        vocab_size);
  }
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
    return InvalidArgumentError(
        "temperature must be a finite number >= 0 (0 = greedy), got {}", p.temperature);
  }
  if (p.top_k < -1) {
    return InvalidArgumentError("top_k must be -1 or 0 (off) or at least 1, got {}",
                                p.top_k);
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return InvalidArgumentError("top_p must be in (0, 1] (1 = off), got {}", p.top_p);
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return InvalidArgumentError("min_p must be in [0, 1] (0 = off), got {}", p.min_p);
  }
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f) {
    return InvalidArgumentError(
        "repetition_penalty must be a finite number > 0 (1 = off), got {}",
        p.repetition_penalty);
  }
  if (!(std::fabs(p.presence_penalty) <= kMaxAbsPresenceFrequencyPenalty)) {
    return InvalidArgumentError("presence_penalty must be in [-2, 2] (0 = off), got {}",
                                p.presence_penalty);
  }
  if (!(std::fabs(p.frequency_penalty) <= kMaxAbsPresenceFrequencyPenalty)) {
    return InvalidArgumentError("frequency_penalty must be in [-2, 2] (0 = off), got {}",
                                p.frequency_penalty);
  }
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= vocab_size) {
      return InvalidArgumentError(
          "logit_bias token id {} is outside the vocabulary [0, {}); use ids the "
          "model's tokenizer produces",
          id, vocab_size);
    }
    if (!(std::fabs(bias) <= kMaxAbsLogitBias)) {
      return InvalidArgumentError("logit_bias for token {} must be in [-100, 100], got {}",
                                  id, bias);
    }
  }
  return OkStatus();
}

}  // namespace keel::sampling
