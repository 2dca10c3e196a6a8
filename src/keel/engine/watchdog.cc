// The engine's watchdog: finds a step that runs past its timeout, reports
// where it is stuck, fails its requests at once, aborts it, and counts the
// worker restart when the step returns — or declares the worker lost when
// it never does. engine.h (EngineConfig) states the rules.
#include <fmt/format.h>

#include "keel/core/logging.h"
#include "keel/core/stack_dump.h"
#include "keel/engine/engine.h"
#include "keel/engine/guarded_sink.h"
#include "keel/engine/request_state.h"

namespace keel::engine {
namespace {

double seconds(SteadyTime::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void Engine::publish_watch_batch() {
  std::vector<WatchEntry> batch;
  batch.reserve(batch_.size());
  for (size_t i = 0; i < batch_.size(); ++i) {
    const RequestState& r = *batch_requests_[i];
    batch.push_back({r.id, r.num_prompt_tokens, r.num_generated(),
                     static_cast<int64_t>(batch_[i].tokens.size()),
                     static_cast<int64_t>(r.blocks.blocks().size()),
                     std::static_pointer_cast<GuardedSink>(r.sink)});
  }
  std::lock_guard<std::mutex> lock(watch_mu_);
  watch_batch_ = std::move(batch);
}

std::string Engine::stall_report(const StepProgress::Snapshot& p, const std::string& what) const {
  std::string batch;
  for (const WatchEntry& e : watch_batch_) {
    batch += fmt::format("\n    {}: prompt {} tokens, generated {}, {} tokens this step, {} KV blocks",
                         e.id, e.prompt_tokens, e.generated_tokens, e.step_tokens, e.num_blocks);
  }
  std::string report = fmt::format(
      "watchdog: {}\n  step {} began {:.3f} s ago; phase {} for {:.3f} s\n  batch: {} sequences{}\n"
      "  KV pool: {} of {} blocks used",
      what, p.step, seconds(clock_.now() - p.step_started), p.where(),
      seconds(clock_.now() - p.phase_started), watch_batch_.size(), batch,
      pool_.num_total() - pool_.num_free(), pool_.num_total());
  if (config_.diagnostics) report += "\n  " + config_.diagnostics();
  report += "\n  thread stacks:\n" + dump_all_thread_stacks();
  return report;
}

void Engine::fail_stalled_batch(const std::string& message) {
  for (const WatchEntry& e : watch_batch_) {
    RequestFinal f;
    f.status = UnavailableError("{}; the engine aborted the step and restarts its worker", message);
    f.finish.reason = sampling::FinishReason::kAbort;
    f.keel_reason = KeelReason::kError;
    f.usage = RequestUsage{e.prompt_tokens, e.generated_tokens, 0};
    f.retry_after_seconds = retry_after_seconds();
    if (!e.sink->fail(std::move(f))) {
      KEEL_LOG_WARN("watchdog: request {} already ended or its sink is busy", e.id);
    }
  }
}

std::optional<std::string> Engine::watchdog_check() {
  std::lock_guard<std::mutex> watch_lock(watch_mu_);
  const SteadyTime now = clock_.now();
  const StepProgress::Snapshot p = progress_.snapshot();
  if (!p.in_step || !watch_open_) return std::nullopt;
  if (fired_step_ == p.step) {
    bool lost = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lost = stats_.worker_lost;
    }
    if (!lost && now - fired_at_ > config_.abort_grace) declare_worker_lost(p, now);
    return std::nullopt;
  }
  const std::chrono::milliseconds phase_limit =
      config_.phase_timeouts[static_cast<size_t>(p.phase)];
  const std::chrono::milliseconds limit = phase_limit.count() > 0 ? phase_limit : config_.step_timeout;
  const SteadyTime since = phase_limit.count() > 0 ? p.phase_started : p.step_started;
  if (now - since <= limit) return std::nullopt;

  // A tensor-parallel executor knows which rank the step waits for.
  const std::string where = p.phase == StepPhase::kForward
                                ? executor_.locate_stall().value_or(p.where())
                                : p.where();
  const std::string what = fmt::format("engine step stalled for {:.1f} s in {}",
                                       seconds(now - p.step_started), where);
  const std::string report = stall_report(p, what);
  KEEL_LOG_ERROR("{}", report);
  fired_step_ = p.step;
  fired_at_ = now;
  // The requests get the stall's error before the step is aborted: once
  // aborted, the step returns and the engine loop would end them first
  // with the step's own (internal) failure.
  fail_stalled_batch(what);
  progress_.request_abort();
  executor_.abort_step(CancelledError("{}; the watchdog aborted the step", what));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.num_stalls;
    stats_.stall_reason = what;
  }
  return report;
}

void Engine::declare_worker_lost(const StepProgress::Snapshot& p, SteadyTime now) {
  const std::string why = fmt::format(
      "engine step stuck for {:.1f} s in {}; it did not return {} ms after the abort",
      seconds(now - p.step_started), p.where(), config_.abort_grace.count());
  KEEL_LOG_ERROR("watchdog: the engine worker is lost: {}. Failing every live request and "
                 "refusing new ones; restart keel.",
                 why);
  std::vector<std::shared_ptr<GuardedSink>> sinks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.worker_lost = true;
    stats_.stall_reason = why;
    shutdown_ = true;
    for (auto& [seq, sink] : live_sinks_) sinks.push_back(sink);
  }
  for (const std::shared_ptr<GuardedSink>& sink : sinks) {
    RequestFinal f;
    f.status = UnavailableError("{}; restart keel", why);
    f.finish.reason = sampling::FinishReason::kAbort;
    f.keel_reason = KeelReason::kError;
    f.retry_after_seconds = retry_after_seconds();
    sink->fail(std::move(f));
  }
}

void Engine::after_aborted_step(int64_t num_failed) {
  progress_.clear_abort();
  ++step_stats_.num_worker_restarts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.stall_reason.clear();
  }
  KEEL_LOG_WARN("engine worker restarted after the stalled step: {} requests of that step failed, "
                "{} queued requests kept",
                num_failed, waiting_.size());
}

void Engine::watchdog_loop(std::stop_token stop) {
  std::mutex m;
  while (!stop.stop_requested()) {
    watchdog_check();
    std::unique_lock<std::mutex> lock(m);
    watchdog_cv_.wait_for(lock, stop, config_.watchdog_interval, [] { return false; });
  }
}

}  // namespace keel::engine
