// The engine's request types: what a client submits (EngineRequest), what it
// reads back (RequestOutput, ending with RequestFinal), and why a request
// ended beyond OpenAI's finish_reason (KeelReason).
//
// Length fields
// - max_new_tokens unset: what remains of the context window (and of the KV
//   pool, if that is smaller). Larger than the room left: lowered to fit and
//   recorded in `adjustments`, or InvalidArgument at submit with
//   strict_length. stop.max_new_tokens is ignored: the engine writes the
//   resolved value there.
// - stop.min_new_tokens: prompt + min_new_tokens larger than the context
//   window or the whole KV pool is InvalidArgument at submit (both numbers).
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/status.h"
#include "keel/sampling/finish_reason.h"
#include "keel/sampling/sampling_params.h"
#include "keel/sampling/stop_checker.h"

namespace keel::engine {

struct EngineRequest {
  // Unique among the engine's live requests; empty: the engine assigns
  // "req-<n>".
  std::string id;
  std::vector<int32_t> prompt_ids;
  sampling::SamplingParams sampling;
  // eos_ids, stop strings and token ids, min_new_tokens, ignore_eos, ...
  // (max_new_tokens: see max_new_tokens below).
  sampling::StopParams stop;
  std::optional<int64_t> max_new_tokens;  // unset: the rest of the window
  // Refuse (InvalidArgument) instead of lowering a max_new_tokens that
  // does not fit the context window or the KV pool.
  bool strict_length = false;
  // Time from submit until the request is ended with KeelReason::kTimeout;
  // unset: EngineConfig::default_timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

// Why a request ended, where OpenAI's finish_reason does not say it all.
enum class KeelReason : uint8_t {
  kNone,            // ended by its own stop or its own max_new_tokens
  kContextWindow,   // "length": the context window was the limit
  kKvPool,          // "length": the whole KV pool was the limit
  kMemoryPressure,  // "length": max_new_tokens was shortened under memory pressure
  kTimeout,         // "abort": the request's deadline passed (status OK)
  kCancelled,       // "abort": cancel() (status OK)
  kError,           // "abort": a step failed (status says why, e.g. Internal)
  kQueueWait,       // "abort": waited longer than max_queue_wait, never started
                    //          (status Unavailable, retry_after_seconds set)
  kShutdown,        // "abort": the engine shut down (status Unavailable)
};

// "", "context_window", "kv_pool", "memory_pressure", "timeout", "cancelled",
// "error", "queue_wait", "shutdown".
std::string_view keel_reason_name(KeelReason reason);

struct RequestUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t num_preemptions = 0;  // times its KV was dropped and recomputed
};

// Seconds on the engine's Clock. 0 where the event did not happen.
struct RequestTimings {
  double queue_seconds = 0;  // submit -> first scheduled
  double ttft_seconds = 0;   // submit -> first token sampled
  double tpot_seconds = 0;   // (last token - first token) / (tokens - 1)
  double e2e_seconds = 0;    // submit -> finished
};

// The last thing a request's stream delivers.
struct RequestFinal {
  // OK when the request produced what it could (also for timeout and
  // cancel); otherwise the error that ended it (Internal: a failed step;
  // Unavailable: queue wait or shutdown).
  Status status;
  sampling::FinishInfo finish;  // reason kAbort for every non-OK status
  KeelReason keel_reason = KeelReason::kNone;
  RequestUsage usage;
  RequestTimings timings;
  // Every change the engine made to the request, e.g.
  // "max_new_tokens lowered from 9000 to 200: prompt 56 tokens, context window 256".
  std::vector<std::string> adjustments;
  int64_t retry_after_seconds = 0;  // with Unavailable: when to try again
  uint64_t seed = 0;                // the sampler's seed
};

// What a stream read returns: everything produced since the previous read.
struct RequestOutput {
  std::string text;                 // never ends inside a UTF-8 character
  std::vector<int32_t> token_ids;   // generated ids, EOS/stop token included when sampled
  std::optional<RequestFinal> final_info;  // set on the last read only
  bool finished() const { return final_info.has_value(); }
};

}  // namespace keel::engine
