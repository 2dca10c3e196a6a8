#include "keel/server/engine_adapter.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "keel/core/fault.h"
#include "keel/core/thread_pool.h"

namespace keel::server {
namespace {

// Forwards the engine's RequestSink calls to the server's OutputSink.
class SinkBridge final : public engine::RequestSink {
 public:
  explicit SinkBridge(std::shared_ptr<OutputSink> sink) : sink_(std::move(sink)) {}
  void on_output(std::string_view text, std::span<const int32_t> token_ids) override {
    sink_->on_output(text, token_ids);
  }
  void on_final(engine::RequestFinal final_info) override {
    sink_->on_final(to_generation_final(final_info));
  }

 private:
  std::shared_ptr<OutputSink> sink_;
};

engine::EngineRequest to_engine_request(GenerationRequest&& r) {
  engine::EngineRequest e;
  e.id = std::move(r.id);
  e.prompt_ids = std::move(r.prompt_ids);
  e.sampling = std::move(r.sampling);
  e.stop = std::move(r.stop);
  e.max_new_tokens = r.max_new_tokens;
  e.strict_length = r.strict_length;
  e.timeout = r.timeout;
  return e;
}

}  // namespace

GenerationFinal to_generation_final(const engine::RequestFinal& f) {
  GenerationFinal g;
  g.status = f.status;
  g.finish_reason = f.finish.reason;
  g.finish_detail = std::string(engine::keel_reason_name(f.keel_reason));
  g.prompt_tokens = f.usage.prompt_tokens;
  g.completion_tokens = f.usage.completion_tokens;
  g.num_preemptions = f.usage.num_preemptions;
  g.queue_seconds = f.timings.queue_seconds;
  g.ttft_seconds = f.timings.ttft_seconds;
  g.tpot_seconds = f.timings.tpot_seconds;
  g.e2e_seconds = f.timings.e2e_seconds;
  g.adjustments = f.adjustments;
  g.retry_after_seconds = f.retry_after_seconds;
  g.seed = f.seed;
  return g;
}

std::vector<int32_t> end_of_turn_ids(const tokenizer::Tokenizer& tokenizer,
                                     const jinja::ChatTemplate* chat_template) {
  std::vector<std::string> names;
  if (chat_template) {
    auto eos = chat_template->special_tokens().find("eos_token");
    if (eos != chat_template->special_tokens().end() && eos->is_string()) {
      names.push_back(eos->get<std::string>());
    }
  }
  for (const char* t : {"<|im_end|>", "<|eot_id|>", "<|end_of_turn|>", "<end_of_turn>", "<|end|>",
                        "</s>"}) {
    names.emplace_back(t);
  }
  std::vector<int32_t> ids;
  for (const std::string& name : names) {
    if (name.empty()) continue;
    std::optional<uint32_t> id = tokenizer.token_to_id(name);
    if (!id) continue;
    const auto i = static_cast<int32_t>(*id);
    if (std::find(ids.begin(), ids.end(), i) == ids.end()) ids.push_back(i);
  }
  return ids;
}

EngineAdapter::EngineAdapter(engine::Engine& engine, tokenizer::Tokenizer tokenizer, ModelInfo info,
                             std::chrono::milliseconds tokenize_timeout,
                             Result<jinja::ChatTemplate> chat_template)
    : engine_(engine),
      tokenizer_(std::move(tokenizer)),
      info_(std::move(info)),
      tokenize_timeout_(tokenize_timeout),
      chat_template_(std::move(chat_template)) {
  if (chat_template_.ok()) {
    chat_stop_ids_ = end_of_turn_ids(tokenizer_, &*chat_template_);
    // Ids beyond the model's vocabulary (a tokenizer larger than the model)
    // can never be sampled.
    std::erase_if(chat_stop_ids_, [this](int32_t id) { return id >= info_.vocab_size; });
  }
}

Result<std::string> EngineAdapter::render_chat(const ChatRenderRequest& request) const {
  if (!chat_template_.ok()) {
    if (chat_template_.status().code() == StatusCode::kNotFound) {
      return NotFoundError("this model has no chat template; use /v1/completions");
    }
    return FailedPreconditionError("this model's chat template cannot be used: {}",
                                   chat_template_.status().message());
  }
  jinja::ChatOptions options;
  options.messages = request.messages;
  options.tools = request.tools;
  options.add_generation_prompt = request.add_generation_prompt;
  options.kwargs = request.kwargs;
  return chat_template_->render_chat(options);
}

Result<std::vector<int32_t>> EngineAdapter::tokenize_chat(std::string_view text) const {
  return run_tokenizer_job<std::vector<int32_t>>(
      "tokenizing the chat prompt",
      [tok = tokenizer_, text = std::string(text)]() -> Result<std::vector<int32_t>> {
        auto ids = tok.encode(text, /*add_special_tokens=*/false);
        if (!ids.ok()) return ids.status().with_context("tokenizing the chat prompt");
        return std::vector<int32_t>(ids->begin(), ids->end());
      });
}

// Tokenizer work runs on the core pool in task mode: the HTTP thread only
// waits, with a deadline, so a stalled tokenization (fault points
// tokenizer.stall / tokenizer.error) fails its own request and nothing
// else; the job owns everything it touches, as a task may outlive the wait.
template <typename T, typename Fn>
Result<T> EngineAdapter::run_tokenizer_job(std::string_view what, Fn fn) const {
  struct Job {
    Result<T> out = InternalError("not run");
  };
  auto job = std::make_shared<Job>();
  const Deadline deadline = Deadline::after(tokenize_timeout_);
  const Status s = ThreadPool::global().parallel_for(
      1,
      [job, deadline, fn = std::move(fn)](size_t) {
        const fault::Site site{.phase = "tokenize", .deadline = deadline};
        Status f = fault::check(fault::Point::kTokenizerStall, site);
        if (f.ok()) f = fault::check(fault::Point::kTokenizerError, site);
        job->out = f.ok() ? fn() : Result<T>(f);
      },
      deadline);
  // The wait ran out, or the job itself reached the deadline (a stall).
  const Status late = !s.ok() ? s : job->out.status();
  if (late.code() == StatusCode::kDeadlineExceeded) {
    return DeadlineExceededError("{} did not finish within {} ms: {}", what,
                                 tokenize_timeout_.count(), late.message());
  }
  if (!s.ok()) return s;
  return std::move(job->out);
}

Result<std::vector<int32_t>> EngineAdapter::tokenize(std::string_view text) const {
  return run_tokenizer_job<std::vector<int32_t>>(
      "tokenizing the prompt",
      [tok = tokenizer_, text = std::string(text)]() -> Result<std::vector<int32_t>> {
        auto ids = tok.encode(text, /*add_special_tokens=*/true);
        if (!ids.ok()) return ids.status().with_context("tokenizing the prompt");
        return std::vector<int32_t>(ids->begin(), ids->end());
      });
}

Result<std::string> EngineAdapter::detokenize(std::span<const int32_t> ids) const {
  return run_tokenizer_job<std::string>(
      "detokenizing the prompt",
      [tok = tokenizer_, u = std::vector<uint32_t>(ids.begin(), ids.end())]() {
        return tok.decode(u, /*skip_special_tokens=*/false);
      });
}

Result<std::string> EngineAdapter::submit(GenerationRequest request,
                                          std::shared_ptr<OutputSink> sink) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!not_ready_reason_.empty()) {
      return UnavailableError("not accepting requests: " + not_ready_reason_);
    }
    if (memory_.level >= 2) {
      return UnavailableError("not admitting new requests while memory is critical: {}",
                              memory_.reason);
    }
  }
  return engine_.submit(to_engine_request(std::move(request)),
                        std::make_shared<SinkBridge>(std::move(sink)));
}

Status EngineAdapter::cancel(std::string_view request_id) { return engine_.cancel(request_id); }

EngineSnapshot EngineAdapter::snapshot() const {
  const engine::EngineStats s = engine_.stats();
  EngineSnapshot snap;
  snap.num_running = s.num_running;
  snap.num_waiting = s.num_waiting;
  snap.kv_blocks_used = s.kv_blocks_used;
  snap.kv_blocks_total = s.kv_blocks_total;
  snap.num_preemptions = s.num_preemptions;
  snap.num_stalls = s.num_stalls;
  snap.num_worker_restarts = s.num_worker_restarts;
  if (s.worker_lost) {
    snap.unhealthy_reason = "the engine worker is lost: " + s.stall_reason;
  } else if (!s.stall_reason.empty()) {  // until the aborted step returns
    snap.unhealthy_reason = s.stall_reason + "; the engine worker is restarting";
  }
  snap.heartbeat_age = engine_.heartbeat_age();
  snap.retry_after_seconds = engine_.retry_after_seconds();
  snap.retry_after_ms = engine_.retry_after_ms();
  std::lock_guard<std::mutex> lock(mu_);
  if (!not_ready_reason_.empty()) {
    snap.not_ready_reason = not_ready_reason_;
  } else if (!snap.heartbeat_age) {
    snap.not_ready_reason = "the engine loop has not started";
  } else if (!s.stall_reason.empty()) {
    snap.not_ready_reason = s.stall_reason;
  } else if (memory_.level >= 2) {
    snap.not_ready_reason = "memory critical: " + memory_.reason;
  }
  snap.ready = snap.not_ready_reason.empty();
  const int64_t max_queued = engine_.config().max_queued_requests;
  if (s.num_waiting >= max_queued) {
    snap.admission_closed_reason = fmt::format(
        "the queue is full: {} requests waiting (max_queued_requests {}); retry after {} s",
        s.num_waiting, max_queued, snap.retry_after_seconds);
  } else if (memory_.level >= 2) {
    snap.admission_closed_reason =
        "not admitting new requests while memory is critical: " + memory_.reason;
  }
  if (memory_.level == 1) snap.degraded_reason = "memory warning: " + memory_.reason;
  snap.memory_level = memory_.level;
  snap.memory_usage = memory_.usage;
  return snap;
}

void EngineAdapter::set_memory_state(MemoryState state) {
  std::lock_guard<std::mutex> lock(mu_);
  memory_ = std::move(state);
}

void EngineAdapter::set_not_ready(std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  not_ready_reason_ = std::move(reason);
}

}  // namespace keel::server
