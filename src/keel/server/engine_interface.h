// EngineInterface: everything the HTTP server needs from an inference engine,
// and nothing more. The real engine (engine/engine.h) is adapted to it by a
// thin adapter; tests use a scripted FakeEngine (tests/server/fake_engine.h).
//
// One GenerationRequest is one sequence: one prompt, one choice. A request
// with n > 1 or several prompts is submitted as several GenerationRequests.
//
// Output contract (per submitted request)
// - submit() either fails (the sink is never called) or succeeds, and then
//   the engine calls sink->on_output() zero or more times and
//   sink->on_final() exactly once, last — also after cancel(), a timeout,
//   an error or shutdown.
// - Sink calls come from the engine's thread. They never block and never
//   throw (the server's sink takes a mutex held only for an append), so the
//   engine never waits on a client. Text never ends inside a UTF-8
//   character.
//
// Status codes the server maps (api_error.h has the table)
// - submit: InvalidArgument (can never run: prompt too long, bad params) →
//   400; Unavailable / ResourceExhausted (queue full, draining) → 503 with
//   Retry-After = snapshot().retry_after_seconds; anything else → 500.
// - GenerationFinal::status: OK when the request produced what it could
//   (including timeout and cancel, told apart by finish_detail); otherwise
//   the error that ended it (Internal: a failed step; Unavailable: queue
//   wait or shutdown).
//
// Thread-safety: every method is called concurrently from many HTTP threads
// and must be safe for that.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/core/result.h"
#include "keel/core/status.h"
#include "keel/sampling/finish_reason.h"
#include "keel/sampling/sampling_params.h"
#include "keel/sampling/stop_checker.h"

namespace keel::server {

struct GenerationRequest {
  // Unique among live requests; the server sets it ("cmpl-<hex>-<choice>").
  std::string id;
  std::vector<int32_t> prompt_ids;
  sampling::SamplingParams sampling;
  // stop_strings, stop_token_ids, min_new_tokens, ignore_eos,
  // include_stop_str_in_output. eos_ids is left empty: the engine adds the
  // model's. max_new_tokens here is ignored: see below.
  sampling::StopParams stop;
  // Unset: what remains of the context window.
  std::optional<int64_t> max_new_tokens;
  // Refuse (InvalidArgument) a max_new_tokens that does not fit the context
  // window or the KV pool instead of lowering it.
  bool strict_length = false;
  // From submit until the engine ends it with finish_detail "timeout".
  // Unset: the engine's default.
  std::optional<std::chrono::milliseconds> timeout;
};

// The last thing a request's sink receives.
struct GenerationFinal {
  Status status;
  sampling::FinishReason finish_reason = sampling::FinishReason::kAbort;
  // Why it ended beyond finish_reason, as engine::keel_reason_name():
  // "" (its own stop / max_tokens), "context_window", "kv_pool",
  // "memory_pressure", "timeout", "cancelled", "error", "queue_wait",
  // "shutdown".
  std::string finish_detail;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t num_preemptions = 0;
  // Seconds; 0 where the event did not happen.
  double queue_seconds = 0;  // submit -> first scheduled
  double ttft_seconds = 0;   // submit -> first token
  double tpot_seconds = 0;   // mean time per output token after the first
  double e2e_seconds = 0;    // submit -> finished
  // Every change the engine made to the request, in words.
  std::vector<std::string> adjustments;
  int64_t retry_after_seconds = 0;  // with Unavailable
  std::optional<uint64_t> seed;     // the sampler's seed, when known
};

// Receives one request's output. Implemented by the server.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Text that became final with these generated ids (either may be empty).
  virtual void on_output(std::string_view text, std::span<const int32_t> token_ids) = 0;
  // Exactly once, after the last on_output.
  virtual void on_final(GenerationFinal final_info) = 0;
};

struct ModelInfo {
  std::string name;           // what clients pass as "model"
  int64_t vocab_size = 0;     // ids are in [0, vocab_size)
  int64_t max_model_len = 0;  // context window in tokens
  int64_t created_unix_seconds = 0;
};

// A consistent snapshot for /health, /ready and /metrics. Cheap: called on
// every scrape and health probe.
struct EngineSnapshot {
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  int64_t num_preemptions = 0;  // total since start (monotonic)
  int64_t num_stalls = 0;           // steps the watchdog found stalled (monotonic)
  int64_t num_worker_restarts = 0;  // engine worker restarts after a stall (monotonic)
  // Set while the engine cannot make progress at all (a lost worker):
  // /health answers 503 with it whatever the heartbeat says.
  std::string unhealthy_reason;
  // Time since the engine loop last showed progress: it finished a step or
  // found itself idle (an idle loop must keep beating). nullopt: the loop
  // has not started.
  std::optional<std::chrono::milliseconds> heartbeat_age;
  // Model loaded and admission open.
  bool ready = false;
  std::string not_ready_reason;     // when !ready, in words
  // Ready but under memory pressure (warning): /ready answers 200 with
  // status "degraded" and this reason.
  std::string degraded_reason;
  // The memory monitor's view: 0 normal, 1 warning, 2 critical; usage per
  // resource ("host", "budget cpu", ...) as a fraction of its limit.
  int memory_level = 0;
  std::vector<std::pair<std::string, double>> memory_usage;
  int64_t retry_after_seconds = 1;  // hint for Unavailable answers, >= 1
  int64_t retry_after_ms = 0;       // the same, finer (0: none)
  // Set while submits would be refused anyway (queue full, memory
  // critical): the server answers 503 with it before tokenizing.
  std::string admission_closed_reason;
};

// What /v1/chat/completions hands the model's chat template (transformers'
// apply_chat_template(messages, tools=..., add_generation_prompt=...,
// **kwargs)). ordered_json keeps the client's key order (tojson of tools).
struct ChatRenderRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // validated
  std::optional<nlohmann::ordered_json> tools;                         // unset: None
  bool add_generation_prompt = true;
  // Extra template variables: tool_choice (when sent), then
  // chat_template_kwargs (enable_thinking, ...), which win.
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
};

class EngineInterface {
 public:
  virtual ~EngineInterface() = default;

  virtual ModelInfo model_info() const = 0;
  // The prompt as the model sees it (with BOS if the model adds one).
  virtual Result<std::vector<int32_t>> tokenize(std::string_view text) const = 0;
  // For echo of token-id prompts.
  virtual Result<std::string> detokenize(std::span<const int32_t> ids) const = 0;

  // Chat. The prompt text the model's chat template renders: NotFound when
  // the model has no chat template; InvalidArgument with the template's
  // message when it raises (raise_exception) or fails; ResourceExhausted
  // past a render limit. Default: NotFound (an engine without chat).
  virtual Result<std::string> render_chat(const ChatRenderRequest& request) const {
    (void)request;
    return NotFoundError("this model has no chat template; use /v1/completions");
  }
  // A rendered chat prompt as ids WITHOUT adding special tokens again (the
  // template wrote them, as transformers tokenizes chat prompts).
  virtual Result<std::vector<int32_t>> tokenize_chat(std::string_view text) const {
    return tokenize(text);
  }
  // Ids that end an assistant turn (the template's eos_token and the known
  // end-of-turn tokens the vocabulary has): stop ids of every chat request.
  virtual std::vector<int32_t> chat_stop_token_ids() const { return {}; }

  // Queues the request; returns its id (request.id). See the contract above.
  virtual Result<std::string> submit(GenerationRequest request,
                                     std::shared_ptr<OutputSink> sink) = 0;
  // Ends a live request soon (its sink gets on_final with finish_detail
  // "cancelled"). NotFound if no live request has the id.
  virtual Status cancel(std::string_view request_id) = 0;

  virtual EngineSnapshot snapshot() const = 0;
};

}  // namespace keel::server
