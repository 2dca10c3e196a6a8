// SamplingParams: how the next token is chosen from the logits (per request).
//
// Semantics follow vLLM / HF transformers (see README.md for the processing
// order). validate() checks vLLM's ranges and returns InvalidArgument naming
// the field, the allowed range and the value received, e.g.
//   "top_p must be in (0, 1], got 1.5"
// A SamplingParams is a plain value; validate() is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "keel/core/status.h"

namespace keel::sampling {

// Temperatures below this are greedy (vLLM's _SAMPLING_EPS): top-k, top-p
// and min-p are then irrelevant and no random number is drawn.
inline constexpr float kGreedyTemperature = 1e-5f;

// Bounds of OpenAI's logit_bias values and presence/frequency penalties.
inline constexpr float kMaxAbsLogitBias = 100.0f;
inline constexpr float kMaxAbsPresenceFrequencyPenalty = 2.0f;

struct SamplingParams {
  // >= 0; below kGreedyTemperature (0 included) means greedy (argmax, ties
  // to the lowest id).
  float temperature = 1.0f;
  // Keep the top_k most likely tokens; 0 or -1 = off.
  int32_t top_k = 0;
  // Keep the smallest set of most likely tokens whose probability sums to
  // >= top_p; in (0, 1], 1 = off.
  float top_p = 1.0f;
  // Drop tokens whose probability is below min_p * (the largest
  // probability); in [0, 1], 0 = off.
  float min_p = 0.0f;
  // HF/vLLM: for every token seen in the prompt or the output, a logit > 0
  // is divided by it, otherwise multiplied. > 0, 1 = off.
  float repetition_penalty = 1.0f;
  // OpenAI: subtracted once from the logit of every token that occurs in
  // the output so far. [-2, 2], 0 = off.
  float presence_penalty = 0.0f;
  // OpenAI: subtracted once per occurrence in the output so far. [-2, 2].
  float frequency_penalty = 0.0f;
  // (token id, bias) added to the logits before everything else; ids in
  // [0, vocab_size), bias in [-100, 100]. Repeated ids add up.
  std::vector<std::pair<int32_t, float>> logit_bias;
  // Same seed + same logits → same tokens. Unset: seeded from
  // std::random_device (Sampler::seed() reports the seed used).
  std::optional<uint64_t> seed;
};

// True when `params` selects greedy decoding (temperature < kGreedyTemperature).
bool is_greedy(const SamplingParams& params);

// OK, or InvalidArgument for the first bad field. vocab_size (the number of
// logits per step) must be in [1, 2^31 - 1].
Status validate(const SamplingParams& params, int64_t vocab_size);

}  // namespace keel::sampling
