// Engine: construction, the thread-safe API (submit, cancel, stats) and the
// driver loop. The step itself is in engine_step.cc.
#include "keel/engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "keel/core/check.h"
#include "keel/core/logging.h"
#include "keel/core/thread_pool.h"
#include "keel/engine/guarded_sink.h"
#include "keel/engine/length_rules.h"
#include "keel/engine/request_state.h"

namespace keel::engine {
namespace {

// Generated tokens a request's buffers are sized for at submit.
constexpr int64_t kReserveNewTokens = 1024;

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(Executor& executor, EngineConfig config,
                                               std::optional<tokenizer::Tokenizer> tokenizer,
                                               const Clock& clock) {
  const ExecutorLimits l = executor.limits();
  if (l.vocab_size < 1 || l.max_batch_tokens < 1 || l.max_logit_rows < 1 ||
      l.max_context_tokens < 2) {
    return InvalidArgumentError(
        "executor limits must be positive: vocab {}, max_batch_tokens {}, max_logit_rows {}, "
        "context {}",
        l.vocab_size, l.max_batch_tokens, l.max_logit_rows, l.max_context_tokens);
  }
  if (config.max_batch_tokens < 0 || config.max_running < 0) {
    return InvalidArgumentError("max_batch_tokens and max_running must be >= 0 (0: the executor's)");
  }
  if (config.max_queued_requests < 1) {
    return InvalidArgumentError("max_queued_requests must be >= 1, got {}",
                                config.max_queued_requests);
  }
  if (config.max_queue_wait.count() <= 0 || config.default_timeout.count() <= 0 ||
      config.idle_poll.count() <= 0) {
    return InvalidArgumentError("max_queue_wait, default_timeout and idle_poll must be positive");
  }
  if (config.step_timeout.count() <= 0 || config.watchdog_interval.count() <= 0 ||
      config.abort_grace.count() <= 0 || config.stop_timeout.count() <= 0) {
    return InvalidArgumentError(
        "step_timeout, watchdog_interval, abort_grace and stop_timeout must be positive");
  }
  for (std::chrono::milliseconds t : config.phase_timeouts) {
    if (t.count() < 0) return InvalidArgumentError("phase timeouts must be >= 0 (0: step_timeout)");
  }
  if (config.admission_headroom_tokens < 0 || !(config.pressure_watermark_fraction >= 0.0) ||
      config.pressure_watermark_fraction > 1.0) {
    return InvalidArgumentError(
        "admission_headroom_tokens must be >= 0 and pressure_watermark_fraction in [0, 1]");
  }
  return std::unique_ptr<Engine>(new Engine(executor, config, std::move(tokenizer), clock));
}

Engine::Engine(Executor& executor, EngineConfig config,
               std::optional<tokenizer::Tokenizer> tokenizer, const Clock& clock)
    : executor_(executor), pool_(executor.kv_pool()), config_(config), limits_(executor.limits()),
      tokenizer_(std::move(tokenizer)), clock_(clock) {
  sched_config_.max_batch_tokens = config_.max_batch_tokens > 0
                                       ? std::min(config_.max_batch_tokens, limits_.max_batch_tokens)
                                       : limits_.max_batch_tokens;
  sched_config_.max_running = config_.max_running > 0
                                  ? std::min(config_.max_running, limits_.max_logit_rows)
                                  : limits_.max_logit_rows;
  sched_config_.block_size_tokens = pool_.shape().block_size_tokens;
  sched_config_.admission_headroom_tokens = config_.admission_headroom_tokens;
  sched_config_.pressure_watermark_blocks = static_cast<int64_t>(
      std::ceil(config_.pressure_watermark_fraction * static_cast<double>(pool_.num_total())));
  sched_config_.max_queue_wait = config_.max_queue_wait;
  sample_scratch_.resize(static_cast<size_t>(limits_.vocab_size) *
                         static_cast<size_t>(ThreadPool::global().num_threads()));
  step_stats_.kv_blocks_total = pool_.num_total();
  stats_ = step_stats_;
  executor_.attach_progress(&progress_);
}

Engine::~Engine() {
  const Status stopped = stop_loop();
  // A lost worker thread still uses this object: destroying it would free
  // memory under that thread. The owner must exit the process instead.
  KEEL_CHECK(stopped.ok()) << "destroying an engine whose worker thread is lost: "
                           << stopped.to_string();
  shutdown();
  executor_.attach_progress(nullptr);
}

int64_t Engine::retry_after_ms() const {
  if (config_.retry_after.count() > 0) return config_.retry_after.count() * 1000;
  const auto half = std::chrono::duration_cast<std::chrono::seconds>(config_.max_queue_wait / 2);
  const int64_t cap_ms = std::max<int64_t>(1, half.count()) * 1000;
  const int64_t estimate = retry_after_estimate_ms_.load(std::memory_order_relaxed);
  return estimate > 0 ? std::min(estimate, cap_ms) : cap_ms;
}

int64_t Engine::retry_after_seconds() const {
  return std::max<int64_t>(1, (retry_after_ms() + 999) / 1000);
}

Result<std::unique_ptr<RequestState>> Engine::make_state(EngineRequest& req, SteadyTime now) {
  const LengthLimits limits{limits_.vocab_size, limits_.max_context_tokens,
                            pool_.num_total() * pool_.shape().block_size_tokens};
  KEEL_ASSIGN_OR_RETURN(ResolvedLengths lengths, resolve_lengths(req, limits));
  const std::chrono::milliseconds timeout = req.timeout.value_or(config_.default_timeout);
  if (timeout.count() <= 0) {
    return InvalidArgumentError("timeout must be positive, got {} ms", timeout.count());
  }
  req.stop.max_new_tokens = lengths.max_new_tokens;
  std::vector<int32_t>& eos = req.stop.eos_ids;
  eos.insert(eos.end(), config_.eos_ids.begin(), config_.eos_ids.end());
  std::sort(eos.begin(), eos.end());
  eos.erase(std::unique(eos.begin(), eos.end()), eos.end());
  KEEL_RETURN_IF_ERROR(sampling::validate(req.sampling, limits_.vocab_size));
  KEEL_ASSIGN_OR_RETURN(sampling::StopChecker stop,
                        sampling::StopChecker::create(req.stop, limits_.vocab_size));
  const auto prompt = static_cast<int64_t>(req.prompt_ids.size());
  // Room for typical generations up front; longer ones grow (amortised).
  const int64_t reserve = prompt + std::min<int64_t>(lengths.max_new_tokens, kReserveNewTokens);
  auto r = std::make_unique<RequestState>(std::move(stop), pool_.shape().block_size_tokens,
                                          reserve);
  r->token_ids = std::move(req.prompt_ids);
  r->token_ids.reserve(static_cast<size_t>(reserve));
  r->sampling = std::move(req.sampling);
  r->num_prompt_tokens = prompt;
  if (tokenizer_) r->decoder.emplace(*tokenizer_, /*skip_special_tokens=*/true);
  r->max_new_tokens = lengths.max_new_tokens;
  r->min_new_tokens = lengths.min_new_tokens;
  r->limit_reason = lengths.limit_reason;
  r->adjustments = std::move(lengths.adjustments);
  r->arrival = now;
  r->deadline = now + timeout;
  return r;
}

Result<std::shared_ptr<RequestStream>> Engine::submit(EngineRequest request) {
  const uint64_t seq = next_seq_.fetch_add(1);
  if (request.id.empty()) request.id = fmt::format("req-{}", seq);
  auto stream = std::make_shared<RequestStream>(request.id);
  KEEL_RETURN_IF_ERROR(submit_with_seq(seq, std::move(request), stream));
  return stream;
}

Result<std::string> Engine::submit(EngineRequest request, std::shared_ptr<RequestSink> sink) {
  if (sink == nullptr) return InvalidArgumentError("submit: the output sink is null");
  const uint64_t seq = next_seq_.fetch_add(1);
  if (request.id.empty()) request.id = fmt::format("req-{}", seq);
  std::string id = request.id;
  KEEL_RETURN_IF_ERROR(submit_with_seq(seq, std::move(request), std::move(sink)));
  return id;
}

Status Engine::submit_with_seq(uint64_t seq, EngineRequest request,
                               std::shared_ptr<RequestSink> sink) {
  const SteadyTime now = clock_.now();
  std::string id = std::move(request.id);
  auto made = make_state(request, now);
  std::lock_guard<std::mutex> lock(mu_);
  if (!made.ok()) {
    ++stats_.num_rejected_invalid;
    return made.status();
  }
  std::unique_ptr<RequestState> r = std::move(made).value();
  if (shutdown_) {
    ++stats_.num_rejected_shutdown;
    if (stats_.worker_lost) {
      return UnavailableError("the engine worker is lost ({}); restart keel", stats_.stall_reason);
    }
    return UnavailableError("the engine is shutting down; send the request elsewhere");
  }
  r->seq = seq;
  r->id = std::move(id);
  if (live_ids_.count(r->id) != 0) {
    ++stats_.num_rejected_invalid;
    return InvalidArgumentError("request id '{}' is already in use by a live request", r->id);
  }
  const int64_t queued = stats_.num_waiting + static_cast<int64_t>(inbox_.size());
  if (queued >= config_.max_queued_requests) {
    ++stats_.num_rejected_queue_full;
    return UnavailableError(
        "the queue is full: {} requests waiting (max_queued_requests {}); retry after {} s",
        queued, config_.max_queued_requests, retry_after_seconds());
  }
  if (oldest_unstarted_arrival_ && now - *oldest_unstarted_arrival_ >= config_.max_queue_wait) {
    ++stats_.num_rejected_queue_wait;
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - *oldest_unstarted_arrival_);
    return UnavailableError(
        "the server is saturated: the oldest queued request has waited {} ms (max_queue_wait "
        "{} ms); retry after {} s",
        waited.count(), config_.max_queue_wait.count(), retry_after_seconds());
  }
  for (const std::string& a : r->adjustments) KEEL_LOG_INFO("request {}: {}", r->id, a);
  auto guarded = std::make_shared<GuardedSink>(std::move(sink));
  r->sink = guarded;
  live_sinks_.emplace(r->seq, std::move(guarded));
  live_ids_.emplace(r->id, r->seq);
  ++stats_.num_submitted;
  inbox_.push_back(std::move(r));
  wake_ = true;
  work_cv_.notify_all();
  return OkStatus();
}

Status Engine::cancel(std::string_view request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_ids_.find(std::string(request_id));
  if (it == live_ids_.end()) {
    return NotFoundError("no live request has id '{}' (finished, or never submitted)", request_id);
  }
  cancels_.push_back(it->second);
  wake_ = true;
  work_cv_.notify_all();
  return OkStatus();
}

void Engine::set_memory_pressure(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  memory_pressure_ = on;
  wake_ = true;
  work_cv_.notify_all();
}

bool Engine::has_work() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !inbox_.empty() || !cancels_.empty() || stats_.num_running > 0 || stats_.num_waiting > 0;
}

void Engine::run_loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    const StepReport report = step();
    if (report.num_scheduled_tokens > 0 || report.num_ended > 0) continue;
    std::unique_lock<std::mutex> lock(mu_);
    work_cv_.wait_for(lock, stop, config_.idle_poll, [&] { return wake_; });
    wake_ = false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  loop_done_ = true;
  work_cv_.notify_all();
}

void Engine::start() {
  if (loop_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    loop_done_ = false;
  }
  loop_ = std::jthread([this](std::stop_token st) { run_loop(st); });
  watchdog_ = std::jthread([this](std::stop_token st) { watchdog_loop(st); });
}

Status Engine::stop_loop() {
  if (watchdog_.joinable()) {
    watchdog_.request_stop();
    watchdog_cv_.notify_all();
    watchdog_.join();  // bounded: its waits are watchdog_interval slices
  }
  if (!loop_.joinable()) return OkStatus();
  loop_.request_stop();
  bool done = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    done = work_cv_.wait_for(lock, config_.stop_timeout, [&] { return loop_done_; });
  }
  if (!done) {
    const StepProgress::Snapshot p = progress_.snapshot();
    loop_.detach();
    KEEL_LOG_ERROR("the engine loop did not stop within {} ms (step {} in {}); its thread is "
                   "abandoned",
                   config_.stop_timeout.count(), p.step, p.where());
    return DeadlineExceededError("the engine loop did not stop within {} ms: stuck in {}",
                                 config_.stop_timeout.count(), p.where());
  }
  loop_.join();
  return OkStatus();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = stats_;
  s.kv_blocks_total = pool_.num_total();
  s.kv_blocks_used = pool_.num_total() - pool_.num_free();
  return s;
}

SteadyTime Engine::last_step_time() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.last_step_time;
}

std::optional<std::chrono::milliseconds> Engine::heartbeat_age() const {
  const SteadyTime last = last_step_time();
  if (last == SteadyTime{}) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - last);
}

}  // namespace keel::engine
