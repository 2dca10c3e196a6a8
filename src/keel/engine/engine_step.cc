// Engine::step() and what it does to requests: apply the scheduler's plan,
// run the batch, sample, and end requests (always freeing their blocks).
#include <algorithm>
#include <chrono>
#include <cmath>

#include "keel/core/check.h"
#include "keel/core/logging.h"
#include "keel/core/thread_pool.h"
#include "keel/engine/engine.h"
#include "keel/engine/request_state.h"

namespace keel::engine {
namespace {

double seconds_between(SteadyTime a, SteadyTime b) {
  return std::chrono::duration<double>(b - a).count();
}

int64_t millis_between(SteadyTime a, SteadyTime b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

SchedRequest view(const RequestState& r) {
  SchedRequest v;
  v.seq = r.seq;
  v.num_prompt_tokens = r.num_prompt_tokens;
  v.num_tokens = static_cast<int64_t>(r.token_ids.size());
  v.num_computed_tokens = r.num_computed_tokens;
  v.num_slot_tokens = r.blocks.num_tokens();
  v.num_blocks = static_cast<int64_t>(r.blocks.blocks().size());
  v.max_new_tokens = r.max_new_tokens;
  v.min_new_tokens = r.min_new_tokens;
  v.arrival = r.arrival;
  v.deadline = r.deadline;
  v.cancelled = r.cancelled;
  v.started = r.started;
  return v;
}

}  // namespace

StepReport Engine::step() {
  std::lock_guard<std::mutex> step_lock(step_mu_);
  StepReport report;
  num_ended_this_step_ = 0;
  const SteadyTime now = clock_.now();
  drain_inbox();
  SchedulerState state = scheduler_state(now);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state.memory_pressure = memory_pressure_;
  }
  progress_.begin_step(now);
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watch_open_ = true;
  }
  const SchedulerOutput plan = schedule(sched_config_, state);
  apply_plan(plan, now, report);
  if (!batch_.empty()) {
    publish_watch_batch();
    progress_.set_phase(StepPhase::kForward, clock_.now());
    const Result<std::span<const float>> logits = executor_.execute(batch_);
    progress_.set_phase(StepPhase::kSample, clock_.now());
    ++step_stats_.num_steps;
    const auto vocab = static_cast<size_t>(limits_.vocab_size);
    size_t rows = 0;
    for (const model::SequenceStep& s : batch_) rows += s.logits == model::LogitsWanted::kLast;
    Status status = logits.status();
    if (status.ok() && logits->size() != rows * vocab) {
      status = InternalError("the executor returned {} logits; the batch wants {} rows of {}",
                             logits->size(), rows, vocab);
    }
    if (!status.ok()) {
      ++step_stats_.num_failed_steps;
      report.execute_status = status;
      KEEL_LOG_WARN("step failed; ending its {} requests: {}", batch_.size(), status.to_string());
      // Aborted by the watchdog: retryable, like the error it already sent.
      const bool by_watchdog = progress_.abort_requested();
      for (RequestState* r : batch_requests_) {
        end_by_engine(*r, sampling::FinishReason::kAbort, KeelReason::kError,
                      by_watchdog ? UnavailableError("the stalled step was aborted: {}",
                                                     status.to_string())
                                  : InternalError("the model step failed: {}", status.to_string()));
      }
    } else {
      sample_batch(*logits);
    }
  }
  bool aborted = false;
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watch_open_ = false;
    watch_batch_.clear();
    aborted = progress_.abort_requested();
  }
  if (aborted) {
    // The watchdog failed these requests already (their sinks drop what
    // follows); a step it aborted after the forward pass still ends them.
    for (RequestState* r : batch_requests_) {
      if (r->phase == Phase::kFinished) continue;
      end_by_engine(*r, sampling::FinishReason::kAbort, KeelReason::kError,
                    UnavailableError("the watchdog aborted the step of request {}", r->id));
    }
    after_aborted_step(static_cast<int64_t>(batch_.size()));
  }
  remove_finished();
  publish(plan.memory_pressure);
  progress_.end_step(clock_.now());
  report.num_ended = num_ended_this_step_;
  if (report.num_sequences == 0 && report.num_ended == 0) return report;
  KEEL_LOG_DEBUG("step {}: {} sequences, {} tokens ({} admitted, {} preempted, {} ended); KV "
                 "blocks {}/{} used; {} running, {} waiting",
                 progress_.snapshot().step, report.num_sequences, report.num_scheduled_tokens,
                 report.num_admitted, report.num_preempted, report.num_ended,
                 pool_.num_total() - pool_.num_free(), pool_.num_total(), running_.size(),
                 waiting_.size());
  return report;
}

void Engine::drain_inbox() {
  std::vector<std::unique_ptr<RequestState>> inbox;
  std::vector<uint64_t> cancels;
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox.swap(inbox_);
    cancels.swap(cancels_);
  }
  for (std::unique_ptr<RequestState>& r : inbox) {
    waiting_.push_back(r.get());
    const uint64_t seq = r->seq;
    requests_.emplace(seq, std::move(r));
  }
  for (uint64_t seq : cancels) {
    auto it = requests_.find(seq);
    if (it != requests_.end()) it->second->cancelled = true;
  }
}

SchedulerState Engine::scheduler_state(SteadyTime now) const {
  SchedulerState st;
  st.now = now;
  st.num_free_blocks = pool_.num_free();
  st.running.reserve(running_.size());
  for (const RequestState* r : running_) st.running.push_back(view(*r));
  st.waiting.reserve(waiting_.size());
  for (const RequestState* r : waiting_) st.waiting.push_back(view(*r));
  return st;
}

void Engine::apply_plan(const SchedulerOutput& plan, SteadyTime now, StepReport& report) {
  for (const EndedRequest& e : plan.ended) {
    RequestState& r = *requests_.at(e.seq);
    switch (e.cause) {
      case EndCause::kCancelled:
        KEEL_LOG_INFO("request {} cancelled after {} tokens", r.id, r.num_generated());
        end_by_engine(r, sampling::FinishReason::kAbort, KeelReason::kCancelled, OkStatus());
        break;
      case EndCause::kDeadline:
        KEEL_LOG_INFO("request {} timed out after {} ms with {} tokens", r.id,
                      millis_between(r.arrival, now), r.num_generated());
        end_by_engine(r, sampling::FinishReason::kAbort, KeelReason::kTimeout, OkStatus());
        break;
      case EndCause::kQueueWait:
        KEEL_LOG_WARN("request {} waited {} ms without starting; refused", r.id,
                      millis_between(r.arrival, now));
        end_by_engine(r, sampling::FinishReason::kAbort, KeelReason::kQueueWait,
                      UnavailableError("request {} waited {} ms in the queue without starting "
                                       "(max_queue_wait {} ms); retry after {} s",
                                       r.id, millis_between(r.arrival, now),
                                       config_.max_queue_wait.count(), retry_after_seconds()));
        break;
    }
  }
  for (uint64_t seq : plan.preempted) preempt(*requests_.at(seq));
  for (const ShortenedRequest& s : plan.shortened) {
    RequestState& r = *requests_.at(s.seq);
    r.max_new_tokens = s.to_max_new_tokens;
    r.limit_reason = KeelReason::kMemoryPressure;
    r.adjustments.push_back(fmt::format(
        "max_new_tokens shortened from {} to {} under memory pressure: {} KV blocks ({} tokens) "
        "free at admission, prompt {} tokens",
        s.from_max_new_tokens, s.to_max_new_tokens, s.num_free_blocks,
        s.num_free_blocks * pool_.shape().block_size_tokens, r.token_ids.size()));
    KEEL_LOG_INFO("request {}: {}", r.id, r.adjustments.back());
  }
  for (const ScheduledChunk& c : plan.scheduled) {
    if (c.admitted) requests_.at(c.seq)->phase = Phase::kRunning;
  }
  std::erase_if(running_, [](const RequestState* r) { return r->phase != Phase::kRunning; });
  std::erase_if(waiting_, [](const RequestState* r) { return r->phase != Phase::kWaiting; });
  for (uint64_t seq : plan.preempted) waiting_.push_front(requests_.at(seq).get());
  report.num_preempted = static_cast<int64_t>(plan.preempted.size());

  batch_.clear();
  batch_requests_.clear();
  for (const ScheduledChunk& c : plan.scheduled) {
    RequestState& r = *requests_.at(c.seq);
    if (c.admitted) {
      running_.push_back(&r);
      ++report.num_admitted;
      recent_admissions_.push_back(now);
      if (!r.started) {
        r.started = true;
        r.first_scheduled = now;
        step_stats_.num_prompt_tokens += r.num_prompt_tokens;
        const Status s = create_sampler(r);
        if (!s.ok()) {
          end_by_engine(r, sampling::FinishReason::kAbort, KeelReason::kError, s);
          continue;
        }
      }
    }
    if (c.num_new_slot_tokens > 0) {
      const Status s = r.blocks.append_tokens(c.num_new_slot_tokens, pool_);
      if (!s.ok()) {  // the plan counted these blocks free: an injected fault
        KEEL_LOG_WARN("request {}: KV blocks for {} tokens refused ({}); preempting it", r.id,
                      c.num_new_slot_tokens, s.to_string());
        preempt(r);
        std::erase(running_, &r);
        waiting_.push_front(&r);
        ++report.num_preempted;
        continue;
      }
    }
    KEEL_CHECK(r.blocks.num_tokens() >= r.num_computed_tokens + c.num_new_tokens)
        << "request " << r.id << ": the plan outgrew its block table";
    model::SequenceStep step;
    step.tokens = std::span<const int32_t>(r.token_ids)
                      .subspan(static_cast<size_t>(r.num_computed_tokens),
                               static_cast<size_t>(c.num_new_tokens));
    step.start_pos = r.num_computed_tokens;
    step.block_table = r.blocks.blocks();
    step.logits = c.wants_logits ? model::LogitsWanted::kLast : model::LogitsWanted::kNone;
    batch_.push_back(step);
    batch_requests_.push_back(&r);
    report.num_scheduled_tokens += c.num_new_tokens;
  }
  report.num_sequences = static_cast<int64_t>(batch_.size());
}

Status Engine::create_sampler(RequestState& r) {
  auto sampler = sampling::Sampler::create(r.sampling, limits_.vocab_size);
  KEEL_RETURN_IF_ERROR(sampler.status().with_context("creating the sampler"));
  KEEL_RETURN_IF_ERROR(sampler->set_prompt(
      std::span<const int32_t>(r.token_ids).first(static_cast<size_t>(r.num_prompt_tokens))));
  r.sampler.emplace(std::move(sampler).value());
  return OkStatus();
}

void Engine::preempt(RequestState& r) {
  const size_t freed = r.blocks.blocks().size();
  const Status s = r.blocks.release(pool_);
  if (!s.ok()) KEEL_LOG_ERROR("request {}: releasing KV blocks: {}", r.id, s.to_string());
  r.num_computed_tokens = 0;
  r.phase = Phase::kWaiting;
  ++r.num_preemptions;
  ++step_stats_.num_preemptions;
  KEEL_LOG_INFO(
      "request {} preempted (recompute, {} time(s)): freed {} KV blocks; {} tokens to prefill "
      "again on resume",
      r.id, r.num_preemptions, freed, r.token_ids.size());
}

void Engine::sample_batch(std::span<const float> logits) {
  const auto vocab = static_cast<size_t>(limits_.vocab_size);
  draws_.clear();
  size_t row = 0;
  for (size_t i = 0; i < batch_.size(); ++i) {
    RequestState& r = *batch_requests_[i];
    const auto n = static_cast<int64_t>(batch_[i].tokens.size());
    r.num_computed_tokens += n;
    step_stats_.num_computed_tokens += n;
    if (batch_[i].logits != model::LogitsWanted::kLast) continue;
    KEEL_CHECK(r.sampler.has_value()) << "request " << r.id << " sampled before admission";
    draws_.push_back({&r, row++, std::nullopt});
  }
  // Each request's sampler is its own (RNG, penalty counts), so the draws
  // run in parallel, chunk c on scratch row c; tokens are then emitted in
  // batch order on this thread. Same seed, same tokens, on any thread count.
  ThreadPool& pool = ThreadPool::global();
  const size_t chunks = std::min(draws_.size(), static_cast<size_t>(pool.num_threads()));
  if (chunks == 0) return;
  if (sample_scratch_.size() < chunks * vocab) sample_scratch_.resize(chunks * vocab);
  auto draw_chunk = [&](size_t c) {
    const std::span<float> scratch(sample_scratch_.data() + c * vocab, vocab);
    for (size_t j = c; j < draws_.size(); j += chunks) {
      Draw& d = draws_[j];
      const std::span<const float> src = logits.subspan(d.row * vocab, vocab);
      std::copy(src.begin(), src.end(), scratch.begin());
      d.token = d.request->sampler->sample(scratch, d.request->stop.suppressed_token_ids());
    }
  };
  const Status ran = chunks == 1 ? (draw_chunk(0), OkStatus())
                                 : pool.run_chunks(chunks, draw_chunk,
                                                   Deadline::after(config_.step_timeout));
  for (Draw& d : draws_) {
    if (!d.token) {  // its chunk was never claimed: say why
      d.token = ran.ok() ? InternalError("request {} was not sampled", d.request->id) : ran;
    }
    emit_token(*d.request, *d.token);
  }
}

void Engine::emit_token(RequestState& r, const Result<int32_t>& token) {
  Status status = token.status();
  if (status.ok()) status = r.sampler->accept(*token);
  if (!status.ok()) {
    end_by_engine(r, sampling::FinishReason::kAbort, KeelReason::kError,
                  status.with_context("sampling"));
    return;
  }
  r.token_ids.push_back(*token);
  ++step_stats_.num_generation_tokens;
  const SteadyTime now = clock_.now();
  if (!r.first_token) r.first_token = now;
  r.last_token = now;
  std::string delta;
  if (r.decoder) {
    Result<std::string> d = r.decoder->step(static_cast<uint32_t>(*token));
    if (!d.ok()) {
      end_by_engine(r, sampling::FinishReason::kAbort, KeelReason::kError,
                    d.status().with_context("detokenizing"));
      return;
    }
    delta = std::move(d).value();
  }
  const sampling::StepResult res = r.stop.on_token(*token, delta);
  const int32_t token_id = *token;
  r.sink->on_output(res.text, {&token_id, 1});
  if (res.finished) {  // the checker has released all it held back
    const KeelReason why =
        res.finish.cause == sampling::StopCause::kMaxNewTokens ? r.limit_reason : KeelReason::kNone;
    end(r, res.finish, why, OkStatus());
  } else if (r.num_generated() >= r.max_new_tokens) {  // a limit below the checker's
    end_by_engine(r, sampling::FinishReason::kLength, r.limit_reason, OkStatus());
  } else if (static_cast<int64_t>(r.token_ids.size()) >= limits_.max_context_tokens) {
    end_by_engine(r, sampling::FinishReason::kLength, KeelReason::kContextWindow, OkStatus());
  }
}

void Engine::end_by_engine(RequestState& r, sampling::FinishReason finish, KeelReason reason,
                           Status status) {
  std::string tail;
  if (r.decoder && r.num_generated() > 0) {
    Result<std::string> t = r.decoder->finish();
    if (t.ok()) tail = std::move(t).value();
  }
  const sampling::StepResult res = r.stop.finish(finish, tail);
  if (!res.text.empty()) r.sink->on_output(res.text, {});
  end(r, res.finish, reason, std::move(status));
}

void Engine::end(RequestState& r, sampling::FinishInfo finish, KeelReason reason, Status status) {
  KEEL_CHECK(r.phase != Phase::kFinished) << "request " << r.id << " ended twice";
  const Status released = r.blocks.release(pool_);
  if (!released.ok()) KEEL_LOG_ERROR("request {}: releasing KV blocks: {}", r.id, released.to_string());
  r.num_computed_tokens = 0;
  r.phase = Phase::kFinished;
  const SteadyTime now = clock_.now();
  RequestFinal f;
  if (!status.ok()) finish.reason = sampling::FinishReason::kAbort;
  f.finish = finish;
  f.keel_reason = reason;
  f.usage = RequestUsage{r.num_prompt_tokens, r.num_generated(), r.num_preemptions};
  if (r.first_scheduled) f.timings.queue_seconds = seconds_between(r.arrival, *r.first_scheduled);
  if (r.first_token) {
    f.timings.ttft_seconds = seconds_between(r.arrival, *r.first_token);
    if (r.num_generated() > 1) {
      f.timings.tpot_seconds = seconds_between(*r.first_token, r.last_token) /
                               static_cast<double>(r.num_generated() - 1);
    }
  }
  f.timings.e2e_seconds = seconds_between(r.arrival, now);
  f.adjustments = r.adjustments;
  f.seed = r.sampler ? r.sampler->seed() : r.sampling.seed.value_or(0);
  if (status.code() == StatusCode::kUnavailable) f.retry_after_seconds = retry_after_seconds();
  f.status = std::move(status);
  KEEL_LOG_DEBUG("request {} finished: {} {} status={} prompt={} completion={} preemptions={}",
                 r.id, sampling::finish_reason_name(f.finish.reason), keel_reason_name(reason),
                 f.status.to_string(), f.usage.prompt_tokens, f.usage.completion_tokens,
                 f.usage.num_preemptions);
  ++step_stats_.num_finished_by_reason[static_cast<size_t>(f.finish.reason)];
  ++step_stats_.num_ended_by_keel_reason[static_cast<size_t>(reason)];
  ++num_ended_this_step_;
  r.sink->on_final(std::move(f));
  std::lock_guard<std::mutex> lock(mu_);
  live_ids_.erase(r.id);
  live_sinks_.erase(r.seq);
}

void Engine::remove_finished() {
  auto finished = [](const RequestState* r) { return r->phase == Phase::kFinished; };
  std::erase_if(running_, finished);
  std::erase_if(waiting_, finished);
  std::erase_if(requests_, [](const auto& kv) { return kv.second->phase == Phase::kFinished; });
}

int64_t Engine::estimate_retry_after_ms(SteadyTime now) {
  constexpr std::chrono::seconds kAdmissionWindow{20};
  while (!recent_admissions_.empty() && now - recent_admissions_.front() > kAdmissionWindow) {
    recent_admissions_.pop_front();
  }
  if (recent_admissions_.empty()) return 0;
  // Admissions per second over the window (at least 1 s long, so that one
  // step admitting a burst does not read as an unbounded rate).
  const double span_s = std::max(
      1.0, std::chrono::duration<double>(now - recent_admissions_.front()).count());
  const double rate = static_cast<double>(recent_admissions_.size()) / span_s;
  // Half the queue: a client back then finds room while work is still queued
  // (back after the whole queue, it would find the server idle).
  const double waiting = std::max<double>(1.0, static_cast<double>(waiting_.size()));
  return std::max<int64_t>(kMinRetryAfterMs,
                           static_cast<int64_t>(std::ceil(1000.0 * waiting / (2.0 * rate))));
}

void Engine::publish(bool memory_pressure) {
  std::optional<SteadyTime> oldest;
  for (const RequestState* r : waiting_) {
    if (!r->started && (!oldest || r->arrival < *oldest)) oldest = r->arrival;
  }
  step_stats_.num_running = static_cast<int64_t>(running_.size());
  step_stats_.num_waiting = static_cast<int64_t>(waiting_.size());
  step_stats_.memory_pressure = memory_pressure;
  step_stats_.last_step_time = clock_.now();
  retry_after_estimate_ms_.store(estimate_retry_after_ms(step_stats_.last_step_time),
                                 std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  oldest_unstarted_arrival_ = oldest;
  EngineStats s = step_stats_;
  s.num_submitted = stats_.num_submitted;
  s.num_rejected_invalid = stats_.num_rejected_invalid;
  s.num_rejected_queue_full = stats_.num_rejected_queue_full;
  s.num_rejected_queue_wait = stats_.num_rejected_queue_wait;
  s.num_rejected_shutdown = stats_.num_rejected_shutdown;
  s.num_stalls = stats_.num_stalls;  // the watchdog's
  s.stall_reason = stats_.stall_reason;
  s.worker_lost = stats_.worker_lost;
  stats_ = s;
}

void Engine::shutdown() {
  std::lock_guard<std::mutex> step_lock(step_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  drain_inbox();
  for (auto& [seq, r] : requests_) {
    if (r->phase == Phase::kFinished) continue;
    end_by_engine(*r, sampling::FinishReason::kAbort, KeelReason::kShutdown,
                  UnavailableError("the engine shut down before request {} finished", r->id));
  }
  remove_finished();
  publish(false);
}

}  // namespace keel::engine
