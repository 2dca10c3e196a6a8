// Engine: continuous batching of many requests over one Executor (the model
// and its KV pool), with admission that tells the truth about memory,
// preemption by recompute, bounded queues, deadlines and cancellation.
//
// Concepts (README.md has the full rules)
// - submit() validates a request (length rules: length_rules.h; sampling and
//   stop params) and queues it, or refuses it at once: InvalidArgument for
//   what can never run, Unavailable (retry_after_seconds()) when the queue
//   is full or its oldest request has waited max_queue_wait. Output arrives
//   on the returned RequestStream, or on the caller's RequestSink; the final
//   output carries FinishInfo, KeelReason, usage, timings and adjustments.
// - step() runs one iteration: drain submits and cancels → schedule()
//   (scheduler.h, a pure policy) → end / preempt / admit → grow block tables
//   → execute one batch → sample, stream-decode, stop-check each sequence
//   that produced logits → finish and free. A failed execute fails the
//   requests of that batch (Internal) and the engine keeps serving.
// - run_loop() steps while there is work and otherwise sleeps on a
//   condition variable for at most idle_poll; start() runs it on an owned
//   thread. Every step records a heartbeat (last_step_time()).
// - All engine time comes from the injected Clock (FakeClock in tests); only
//   run_loop's idle sleep uses real time.
// Invariants: every block a request holds is returned when it ends, on
// every path; with no request live, the pool is whole.
// Thread-safety: submit, cancel, set_memory_pressure, stats,
// last_step_time, retry_after_seconds and has_work are safe from any
// thread. step() and shutdown() serialise on an internal mutex (call them
// from one driver thread, or use start()).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/core/step_progress.h"
#include "keel/engine/executor.h"
#include "keel/engine/request.h"
#include "keel/engine/request_stream.h"
#include "keel/engine/scheduler.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::engine {

struct RequestState;
class GuardedSink;

struct EngineConfig {
  int64_t max_batch_tokens = 0;  // per-step token budget; 0: the executor's
  int64_t max_running = 0;       // sequences per step; 0: the executor's max_logit_rows
  int64_t max_queued_requests = 256;
  std::chrono::milliseconds max_queue_wait{std::chrono::seconds(60)};
  std::chrono::milliseconds default_timeout{std::chrono::seconds(600)};
  int64_t admission_headroom_tokens = 16;  // decode tokens admission reserves blocks for
  double pressure_watermark_fraction = 0.05;  // of the pool's blocks (scheduler rule 4)
  std::chrono::milliseconds idle_poll{50};    // run_loop's longest sleep (real time)
  // The retry hint of Unavailable refusals. 0: estimated — the time the
  // admission rate of the last 20 s needs to admit half of the requests now
  // waiting, in [100 ms, max(1 s, max_queue_wait / 2)] (the cap while nothing
  // was admitted in the last 20 s); Retry-After is it rounded up to whole
  // seconds. > 0: always this.
  std::chrono::seconds retry_after{0};
  // The model's EOS ids (engine::eos_ids(runtime, tokenizer)), added to
  // every request's stop.eos_ids.
  std::vector<int32_t> eos_ids;

  // Watchdog (watchdog.cc). A step running longer than step_timeout — or
  // phase_timeouts[phase] where that is set (index: StepPhase) — is
  // stalled: the watchdog logs a report, fails the step's requests
  // (Unavailable, "engine step stalled for 61 s in forward layer 17"),
  // raises the abort flag, and the worker restarts when the step returns.
  // A step that has not returned abort_grace after the abort means the
  // worker is lost: every live request fails and submits are refused.
  std::chrono::milliseconds step_timeout{std::chrono::seconds(60)};
  std::array<std::chrono::milliseconds, kNumStepPhases> phase_timeouts{};
  std::chrono::milliseconds watchdog_interval{100};
  std::chrono::milliseconds abort_grace{std::chrono::seconds(5)};
  // How long stop_loop() waits for the loop thread.
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(10)};
  // Extra lines for the stall report (memory state); may be empty.
  std::function<std::string()> diagnostics;
};

// Counters for metrics and /health. A consistent snapshot.
struct EngineStats {
  int64_t num_running = 0;
  int64_t num_waiting = 0;  // queued, including preempted requests
  int64_t num_submitted = 0;
  std::array<int64_t, 4> num_finished_by_reason{};    // index: sampling::FinishReason
  std::array<int64_t, 9> num_ended_by_keel_reason{};  // index: KeelReason
  int64_t num_rejected_invalid = 0;     // InvalidArgument at submit
  int64_t num_rejected_queue_full = 0;  // Unavailable at submit: max_queued_requests
  int64_t num_rejected_queue_wait = 0;  // Unavailable at submit: oldest waited max_queue_wait
  int64_t num_rejected_shutdown = 0;
  int64_t num_preemptions = 0;
  int64_t num_prompt_tokens = 0;      // prompts of admitted requests (first admission)
  int64_t num_generation_tokens = 0;  // sampled tokens
  int64_t num_computed_tokens = 0;    // tokens run through the model, recompute included
  int64_t num_steps = 0;              // steps that executed a batch
  int64_t num_failed_steps = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  bool memory_pressure = false;  // as judged by the last step
  SteadyTime last_step_time{};   // heartbeat, on the engine's clock
  int64_t num_stalls = 0;           // steps the watchdog found stalled
  int64_t num_worker_restarts = 0;  // stalled steps that returned after the abort
  // While a stalled step has not returned: why ("engine step stalled for
  // 61 s in forward layer 17"). Empty otherwise.
  std::string stall_reason;
  bool worker_lost = false;  // a stalled step never returned: restart keel
};

// What one step() did (tests, logs).
struct StepReport {
  int64_t num_scheduled_tokens = 0;
  int64_t num_sequences = 0;
  int64_t num_admitted = 0;
  int64_t num_preempted = 0;
  int64_t num_ended = 0;  // finished, failed, cancelled or timed out in this step
  Status execute_status;  // the executor's error if the batch failed
};

class Engine {
 public:
  // `executor` and `clock` must outlive the engine. Without a tokenizer the
  // outputs carry token ids and no text (stop strings never match).
  // InvalidArgument for a bad config.
  static Result<std::unique_ptr<Engine>> create(Executor& executor, EngineConfig config,
                                                std::optional<tokenizer::Tokenizer> tokenizer,
                                                const Clock& clock = Clock::real());
  // Stops the loop thread if started (waits for the step in flight), ends
  // every live request (KeelReason::kShutdown) and returns its blocks.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues `request` (an empty id gets "req-<n>") and returns the stream
  // its output arrives on; or refuses it at once (see Concepts).
  Result<std::shared_ptr<RequestStream>> submit(EngineRequest request);
  // The same, delivering to `sink` (RequestSink contract); returns the id.
  // On error the sink is never called.
  Result<std::string> submit(EngineRequest request, std::shared_ptr<RequestSink> sink);
  // Ends a live request at the next step (KeelReason::kCancelled); its
  // blocks return to the pool then. NotFound if no live request has the id.
  Status cancel(std::string_view request_id);
  // The memory monitor's flag: while set, newly admitted requests get
  // max_new_tokens shortened to what fits (scheduler rule 4).
  void set_memory_pressure(bool on);

  // One iteration (see Concepts). Tests call it by hand with a FakeClock;
  // servers use start(). A step with nothing to do only beats the heartbeat.
  StepReport step();
  // Requests queued, waiting or running, or cancels not yet applied.
  bool has_work() const;
  // Steps until `stop`; sleeps at most idle_poll when a step ran nothing.
  void run_loop(std::stop_token stop);
  // run_loop and the watchdog on owned threads; stop_loop() asks them to
  // stop and waits at most config.stop_timeout for the step in flight.
  // DeadlineExceeded if the loop thread did not end (a lost worker): it is
  // detached and still uses the engine, so the engine must then not be
  // destroyed — exit the process (the destructor CHECK-fails instead).
  void start();
  Status stop_loop();
  // Ends every request (kShutdown, Unavailable) and refuses new ones.
  void shutdown();

  // One watchdog pass at the clock's now (start() runs it every
  // watchdog_interval; tests call it by hand). Returns the stall report
  // when it found a newly stalled step.
  std::optional<std::string> watchdog_check();
  StepProgress::Snapshot progress() const { return progress_.snapshot(); }

  EngineStats stats() const;
  SteadyTime last_step_time() const;
  // Clock time since the last step (steps keep beating while idle, every
  // idle_poll); nullopt before the first step.
  std::optional<std::chrono::milliseconds> heartbeat_age() const;
  // The retry hint of Unavailable refusals (EngineConfig::retry_after), in
  // whole seconds (Retry-After, >= 1) and in ms (retry-after-ms).
  int64_t retry_after_seconds() const;
  int64_t retry_after_ms() const;
  const EngineConfig& config() const { return config_; }
  const SchedulerConfig& scheduler_config() const { return sched_config_; }
  ExecutorLimits limits() const { return limits_; }

 private:
  Engine(Executor& executor, EngineConfig config, std::optional<tokenizer::Tokenizer> tokenizer,
         const Clock& clock);

  Status submit_with_seq(uint64_t seq, EngineRequest request, std::shared_ptr<RequestSink> sink);
  Result<std::unique_ptr<RequestState>> make_state(EngineRequest& request, SteadyTime now);
  void drain_inbox();
  SchedulerState scheduler_state(SteadyTime now) const;
  void apply_plan(const SchedulerOutput& plan, SteadyTime now, StepReport& report);
  Status create_sampler(RequestState& r);
  void preempt(RequestState& r);
  // Samples every logits row of the step (in parallel across requests),
  // then emits the tokens in batch order. Also counts computed tokens.
  void sample_batch(std::span<const float> logits);
  // Accepts a sampled token (or ends the request with the sampling error),
  // stream-decodes it, stop-checks it and delivers it.
  void emit_token(RequestState& r, const Result<int32_t>& token);
  // Ends `r`: frees its blocks, delivers the final output, counts it.
  void end(RequestState& r, sampling::FinishInfo finish, KeelReason reason, Status status);
  // Ends `r` for a reason its stop checker did not see (length limit set
  // by the engine, cancel, deadline, error, shutdown): flushes held-back
  // text through the checker first.
  void end_by_engine(RequestState& r, sampling::FinishReason finish, KeelReason reason,
                     Status status);
  void remove_finished();
  void publish(bool memory_pressure);
  // Milliseconds for the recent admission rate to admit half of what is
  // waiting (>= kMinRetryAfterMs); 0 when nothing was admitted recently.
  // Prunes recent_admissions_.
  int64_t estimate_retry_after_ms(SteadyTime now);
  static constexpr int64_t kMinRetryAfterMs = 100;
  // Watchdog helpers (watchdog.cc).
  void publish_watch_batch();
  std::string stall_report(const StepProgress::Snapshot& p, const std::string& what) const;
  void fail_stalled_batch(const std::string& message);
  void declare_worker_lost(const StepProgress::Snapshot& p, SteadyTime now);
  void after_aborted_step(int64_t num_failed);
  void watchdog_loop(std::stop_token stop);

  Executor& executor_;
  memory::KvBlockPool& pool_;
  const EngineConfig config_;
  const ExecutorLimits limits_;
  SchedulerConfig sched_config_;
  std::optional<tokenizer::Tokenizer> tokenizer_;
  const Clock& clock_;

  // Step-thread state, guarded by step_mu_.
  std::mutex step_mu_;
  std::unordered_map<uint64_t, std::unique_ptr<RequestState>> requests_;
  std::vector<RequestState*> running_;  // admission order
  std::deque<RequestState*> waiting_;   // queue order
  std::vector<model::SequenceStep> batch_;
  std::vector<RequestState*> batch_requests_;
  struct Draw {
    RequestState* request;
    size_t row;  // in the step's logits
    std::optional<Result<int32_t>> token;  // set by its chunk (no error built per draw)
  };
  std::vector<Draw> draws_;            // this step's, batch order
  std::vector<float> sample_scratch_;  // (chunks, vocab_size), the samplers edit it
  std::deque<SteadyTime> recent_admissions_;  // the last kAdmissionWindow's, oldest first
  int64_t num_ended_this_step_ = 0;
  EngineStats step_stats_;  // the step-side counters, published into stats_

  // Shared state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable_any work_cv_;
  bool wake_ = false;
  bool shutdown_ = false;
  bool memory_pressure_ = false;
  std::vector<std::unique_ptr<RequestState>> inbox_;
  std::vector<uint64_t> cancels_;
  std::unordered_map<std::string, uint64_t> live_ids_;
  std::optional<SteadyTime> oldest_unstarted_arrival_;  // among waiting_, published by step()
  // The estimated retry delay in ms (0: no estimate), published by step().
  std::atomic<int64_t> retry_after_estimate_ms_{0};
  EngineStats stats_;

  std::unordered_map<uint64_t, std::shared_ptr<GuardedSink>> live_sinks_;  // by seq
  bool loop_done_ = true;  // guarded by mu_: the loop thread has returned

  // Watchdog state, guarded by watch_mu_ (never taken while holding mu_).
  StepProgress progress_;
  mutable std::mutex watch_mu_;
  struct WatchEntry {
    std::string id;
    int64_t prompt_tokens = 0;
    int64_t generated_tokens = 0;
    int64_t step_tokens = 0;
    int64_t num_blocks = 0;
    std::shared_ptr<GuardedSink> sink;
  };
  std::vector<WatchEntry> watch_batch_;
  // True from a step's start until the step thread has checked the abort
  // flag: the watchdog aborts only an open step, so an abort decided just as
  // a step ended never leaks into the next one.
  bool watch_open_ = false;
  uint64_t fired_step_ = 0;  // the step the watchdog fired on; 0: none
  SteadyTime fired_at_{};

  std::atomic<uint64_t> next_seq_{1};
  std::jthread loop_;
  std::jthread watchdog_;
  std::condition_variable_any watchdog_cv_;  // wakes the watchdog for stop
};

}  // namespace keel::engine
