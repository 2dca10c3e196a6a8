// resolve_lengths(): the generation-length rules a request is held to at
// submit, as a pure function of the request and the engine's limits.
//
// - An empty prompt, an id outside the vocabulary, or a prompt that leaves no
//   room to generate in the context window or the whole KV pool:
//   InvalidArgument with the numbers.
// - prompt + min_new_tokens larger than the context window or the whole KV
//   pool (it could never be honoured): InvalidArgument with both numbers.
// - max_new_tokens unset: what remains of the context window (limit reason
//   kContextWindow). Set but < 1, or below min_new_tokens: InvalidArgument.
// - max_new_tokens beyond the room left in the window, or in the whole pool:
//   lowered to fit, with an adjustment naming both numbers (limit reason
//   kContextWindow / kKvPool); with strict_length: InvalidArgument instead.
//   The pool limit keeps every admitted request able to finish alone, so the
//   engine can always make progress by preemption.
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/core/result.h"
#include "keel/engine/request.h"

namespace keel::engine {

struct LengthLimits {
  int64_t vocab_size = 0;
  int64_t context_tokens = 0;  // the context window
  int64_t pool_tokens = 0;     // the whole KV pool: num_blocks * block_size_tokens
};

struct ResolvedLengths {
  int64_t max_new_tokens = 0;
  int64_t min_new_tokens = 0;
  // Why max_new_tokens has its value when generation ends on it: kNone (the
  // request's own), kContextWindow or kKvPool.
  KeelReason limit_reason = KeelReason::kNone;
  std::vector<std::string> adjustments;
};

Result<ResolvedLengths> resolve_lengths(const EngineRequest& request, const LengthLimits& limits);

}  // namespace keel::engine
