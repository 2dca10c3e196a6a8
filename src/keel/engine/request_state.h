// RequestState: the engine's record of one live request (engine-internal).
//
// token_ids holds prompt + generated; num_computed_tokens of them are in the
// KV cache, covered by `blocks`. The sampler (scratch up to ~21 bytes per
// vocabulary entry) is created at first admission, so queued requests cost
// little memory. Preemption (recompute) frees the blocks and
// sets num_computed_tokens to 0; the sampler, stop checker and stream decoder
// keep their state, so a resumed request continues exactly where it was.
// Thread-safety: owned and touched only by the engine's step thread; `sink`
// is the client's (called from the step thread only).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/clock.h"
#include "keel/engine/request.h"
#include "keel/engine/request_stream.h"
#include "keel/memory/block_table.h"
#include "keel/sampling/sampler.h"
#include "keel/sampling/stop_checker.h"
#include "keel/tokenizer/stream_decoder.h"

namespace keel::engine {

enum class Phase : uint8_t { kWaiting, kRunning, kFinished };

struct RequestState {
  RequestState(sampling::StopChecker c, int block_size_tokens, int64_t reserve_tokens)
      : blocks(block_size_tokens, reserve_tokens), stop(std::move(c)) {}

  int64_t num_generated() const {
    return static_cast<int64_t>(token_ids.size()) - num_prompt_tokens;
  }

  uint64_t seq = 0;  // the engine's key
  std::string id;
  Phase phase = Phase::kWaiting;
  std::vector<int32_t> token_ids;  // (prompt + generated)
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;
  memory::BlockTable blocks;
  sampling::SamplingParams sampling;        // validated at submit
  std::optional<sampling::Sampler> sampler;  // from first admission on
  sampling::StopChecker stop;
  std::optional<tokenizer::StreamDecoder> decoder;  // none without a tokenizer
  int64_t max_new_tokens = 0;  // the engine's limit (may be below stop's, see pressure)
  int64_t min_new_tokens = 0;
  KeelReason limit_reason = KeelReason::kNone;  // why max_new_tokens has its value
  std::vector<std::string> adjustments;
  int64_t num_preemptions = 0;
  bool started = false;    // admitted at least once
  bool cancelled = false;  // cancel() seen; ended at the next step
  SteadyTime arrival{};
  SteadyTime deadline{};
  std::optional<SteadyTime> first_scheduled;
  std::optional<SteadyTime> first_token;
  SteadyTime last_token{};
  std::shared_ptr<RequestSink> sink;
};

}  // namespace keel::engine
