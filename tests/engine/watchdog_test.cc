// The watchdog over the FakeExecutor: a step stalled (fault point
// step.stall) past its timeout is reported, its requests fail at once with
// where it was stuck, the step is aborted and the worker restarts with the
// queued requests kept; a step that ignores the abort makes the worker lost
// (every live request fails, submits are refused). The pool is whole after
// each scenario. Engine time is a FakeClock; the stalled step runs on its
// own thread and every wait in the test is bounded.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/engine_fixture.h"
#include "keel/core/fault.h"

namespace keel::engine {
namespace {

using namespace std::chrono_literals;

// Runs engine.step() on a thread; join() waits at most `within`.
class StepThread {
 public:
  explicit StepThread(Engine& e) : done_(std::async(std::launch::async, [&e] { e.step(); })) {}
  bool join(std::chrono::milliseconds within) {
    return done_.wait_for(within) == std::future_status::ready;
  }

 private:
  std::future<void> done_;
};

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds within = 5s) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class WatchdogTest : public testing::EngineFixture {
 protected:
  EngineConfig config() {
    EngineConfig c;
    c.step_timeout = 1s;
    c.abort_grace = 5s;
    c.max_running = 2;
    return c;
  }
  bool in_forward() const { return engine_->progress().phase == StepPhase::kForward; }
};

TEST_F(WatchdogTest, StalledStepIsReportedFailedAbortedAndTheWorkerRestarts) {
  start({}, config());
  auto a = submit(greedy(prompt_of(5, 1), 4));
  auto b = submit(greedy(prompt_of(6, 2), 4));
  auto c = submit(greedy(prompt_of(7, 3), 4));  // queued: max_running 2
  fault::ScopedFaults faults("step.stall:nth=1:stall=60s");
  StepThread t(*engine_);
  ASSERT_TRUE(wait_until([&] { return in_forward(); })) << "the step never reached forward";
  EXPECT_FALSE(engine_->watchdog_check().has_value()) << "fired before the timeout";
  clock_.advance(2s);
  std::optional<std::string> report = engine_->watchdog_check();
  ASSERT_TRUE(report.has_value());
  EXPECT_NE(report->find("engine step stalled for 2.0 s in forward"), std::string::npos) << *report;
  EXPECT_NE(report->find(a->id()), std::string::npos) << *report;
  EXPECT_NE(report->find(b->id()), std::string::npos) << *report;
  EXPECT_NE(report->find("KV pool:"), std::string::npos) << *report;
  // Every thread's stack; the stalled step thread is inside the fault stall.
  EXPECT_NE(report->find("thread stacks:"), std::string::npos) << *report;
  EXPECT_NE(report->find("keel::fault::"), std::string::npos) << *report;
  // The step's requests have their error now, before the step returns.
  for (auto* s : {a.get(), b.get()}) {
    auto out = s->collect(Deadline::after(1s));
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const RequestFinal& f = *out->final_info;
    EXPECT_EQ(f.status.code(), StatusCode::kUnavailable);
    EXPECT_NE(f.status.message().find("engine step stalled for 2.0 s in forward"),
              std::string_view::npos)
        << f.status.to_string();
    EXPECT_GE(f.retry_after_seconds, 1);
  }
  EXPECT_FALSE(engine_->stats().stall_reason.empty());
  ASSERT_TRUE(t.join(2s)) << "the aborted step did not return";
  EXPECT_FALSE(engine_->watchdog_check().has_value()) << "fired twice";
  // The worker goes on: the queued request completes normally.
  run();
  auto out = c->collect(Deadline::after(1s));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->final_info->status.ok()) << out->final_info->status.to_string();
  EXPECT_EQ(out->token_ids, expected(prompt_of(7, 3), 4));
  const EngineStats st = engine_->stats();
  EXPECT_EQ(st.num_stalls, 1);
  EXPECT_EQ(st.num_worker_restarts, 1);
  EXPECT_TRUE(st.stall_reason.empty());
  EXPECT_FALSE(st.worker_lost);
  expect_pool_whole();
}

// A sink whose first on_output() blocks until released (bounded): holds the
// step thread in the sample phase, after a successful forward pass.
class BlockingSink final : public RequestSink {
 public:
  void on_output(std::string_view, std::span<const int32_t>) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (blocked_once_) return;
    blocked_once_ = true;
    entered_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, 5s, [&] { return released_; });
  }
  void on_final(RequestFinal f) override {
    std::lock_guard<std::mutex> lock(mu_);
    final_ = std::move(f);
  }
  bool wait_entered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return entered_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::optional<RequestFinal> final_info() {
    std::lock_guard<std::mutex> lock(mu_);
    return final_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool blocked_once_ = false, entered_ = false, released_ = false;
  std::optional<RequestFinal> final_;
};

// Regression: a step the watchdog aborted after its forward pass had
// succeeded (stuck delivering output) left its requests running with failed
// sinks, and an abort decided as a step ended leaked into the next step,
// failing requests the watchdog never named with INTERNAL.
TEST_F(WatchdogTest, AStepAbortedAfterItsForwardPassEndsItsRequestsAndTheNextStepRuns) {
  start({}, config());
  auto sink = std::make_shared<BlockingSink>();
  auto id = engine_->submit(greedy(prompt_of(5, 1), 8), sink);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  auto b = submit(greedy(prompt_of(6, 2), 8));
  StepThread t(*engine_);
  ASSERT_TRUE(sink->wait_entered()) << "the step never delivered output";
  clock_.advance(2s);
  ASSERT_TRUE(engine_->watchdog_check().has_value());
  sink->release();
  ASSERT_TRUE(t.join(2s)) << "the step did not return";
  // Both requests of the aborted step are over, without another step.
  auto out_b = b->collect(Deadline::after(1s));
  ASSERT_TRUE(out_b.ok());
  EXPECT_EQ(out_b->final_info->status.code(), StatusCode::kUnavailable);
  const std::optional<RequestFinal> fa = sink->final_info();
  ASSERT_TRUE(fa.has_value()) << "request " << *id << " still running after its step was aborted";
  EXPECT_EQ(fa->status.code(), StatusCode::kUnavailable) << fa->status.to_string();
  EXPECT_EQ(engine_->stats().num_running, 0);
  expect_pool_whole();
  // A late check (the step is over) fires nothing, and the next request runs.
  clock_.advance(2s);
  EXPECT_FALSE(engine_->watchdog_check().has_value());
  auto c = submit(greedy(prompt_of(7, 3), 4));
  run();
  auto out_c = c->collect(Deadline::after(1s));
  ASSERT_TRUE(out_c.ok());
  EXPECT_TRUE(out_c->final_info->status.ok()) << out_c->final_info->status.to_string();
  EXPECT_EQ(out_c->token_ids, expected(prompt_of(7, 3), 4));
  expect_pool_whole();
}

TEST_F(WatchdogTest, PhaseTimeoutOverridesTheStepTimeout) {
  EngineConfig c = config();
  c.step_timeout = 60s;
  c.phase_timeouts[static_cast<size_t>(StepPhase::kForward)] = 500ms;
  start({}, c);
  auto a = submit(greedy(prompt_of(5, 1), 3));
  fault::ScopedFaults faults("step.stall:nth=1:stall=60s");
  StepThread t(*engine_);
  ASSERT_TRUE(wait_until([&] { return in_forward(); }));
  clock_.advance(400ms);
  EXPECT_FALSE(engine_->watchdog_check().has_value());
  clock_.advance(200ms);
  ASSERT_TRUE(engine_->watchdog_check().has_value());
  ASSERT_TRUE(t.join(2s));
  auto out = a->collect(Deadline::after(1s));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->final_info->status.code(), StatusCode::kUnavailable);
  expect_pool_whole();
}

// A stall clock whose sleeps block until released: a step that ignores the
// abort, as a kernel stuck in a loop would.
class StuckClock final : public fault::StallClock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  void sleep_for(std::chrono::nanoseconds) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, 30s, [&] { return released_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST_F(WatchdogTest, AStepThatIgnoresTheAbortMakesTheWorkerLost) {
  start({}, config());
  auto a = submit(greedy(prompt_of(5, 1), 4));
  auto b = submit(greedy(prompt_of(6, 2), 4));
  auto c = submit(greedy(prompt_of(7, 3), 4));  // queued
  fault::ScopedFaults faults("step.stall:nth=1:stall=60s");
  StuckClock stuck;
  fault::set_stall_clock(&stuck);
  StepThread t(*engine_);
  ASSERT_TRUE(wait_until([&] { return in_forward(); }));
  clock_.advance(2s);
  ASSERT_TRUE(engine_->watchdog_check().has_value());
  clock_.advance(4s);
  engine_->watchdog_check();
  EXPECT_FALSE(engine_->stats().worker_lost) << "declared lost before abort_grace";
  clock_.advance(2s);
  engine_->watchdog_check();
  const EngineStats st = engine_->stats();
  EXPECT_TRUE(st.worker_lost);
  EXPECT_NE(st.stall_reason.find("did not return"), std::string::npos) << st.stall_reason;
  // Every live request has ended, the queued one too, and new ones are refused.
  for (auto* s : {a.get(), b.get(), c.get()}) {
    auto out = s->collect(Deadline::after(1s));
    ASSERT_TRUE(out.ok()) << s->id() << ": " << out.status().to_string();
    EXPECT_EQ(out->final_info->status.code(), StatusCode::kUnavailable);
  }
  auto refused = engine_->submit(greedy(prompt_of(3, 4), 2));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("lost"), std::string_view::npos)
      << refused.status().to_string();
  // Let the stuck step go so the test can clean up.
  stuck.release();
  ASSERT_TRUE(t.join(5s));
  fault::set_stall_clock(nullptr);
  engine_->shutdown();
  expect_pool_whole();
}

// A started real-time engine over `exec` with this step timeout.
Result<std::unique_ptr<Engine>> start_real_time(Executor& exec, std::chrono::milliseconds timeout,
                                                std::chrono::milliseconds interval) {
  EngineConfig c;
  c.step_timeout = timeout;
  c.watchdog_interval = interval;
  auto engine = Engine::create(exec, c, std::nullopt);
  if (engine.ok()) (*engine)->start();
  return engine;
}

EngineRequest small_request() {
  EngineRequest r;
  r.prompt_ids = {1, 2, 3};
  r.max_new_tokens = 4;
  return r;
}

TEST(WatchdogRealTimeTest, StalledRequestFailsWithinASecondAndTheNextIsServed) {
  auto exec = FakeExecutor::create({});
  ASSERT_TRUE(exec.ok());
  fault::ScopedFaults faults("step.stall:nth=1:stall=30s");
  auto engine = start_real_time(**exec, 300ms, 20ms);
  ASSERT_TRUE(engine.ok());
  const EngineRequest r = small_request();
  const auto t0 = std::chrono::steady_clock::now();
  auto stalled = (*engine)->submit(r);
  ASSERT_TRUE(stalled.ok());
  auto out = (*stalled)->collect(Deadline::after(5s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(out.ok()) << "no final within 5 s: " << out.status().to_string();
  EXPECT_EQ(out->final_info->status.code(), StatusCode::kUnavailable);
  EXPECT_LT(secs, 1.3) << "the stalled request took " << secs << " s to fail";
  auto next = (*engine)->submit(r);
  ASSERT_TRUE(next.ok());
  auto out2 = (*next)->collect(Deadline::after(5s));
  ASSERT_TRUE(out2.ok());
  EXPECT_TRUE(out2->final_info->status.ok()) << out2->final_info->status.to_string();
  EXPECT_EQ(out2->token_ids.size(), 4u);
  EXPECT_TRUE((*engine)->stop_loop().ok());
  EXPECT_EQ((*engine)->stats().num_worker_restarts, 1);
}

// An executor whose abort_step() takes its time (a tensor-parallel group
// waking its ranks): the step returns while the abort is still under way.
class SlowAbortExecutor final : public Executor {
 public:
  explicit SlowAbortExecutor(Executor& inner) : inner_(inner) {}
  ExecutorLimits limits() const override { return inner_.limits(); }
  memory::KvBlockPool& kv_pool() override { return inner_.kv_pool(); }
  Result<std::span<const float>> execute(std::span<const model::SequenceStep> batch) override {
    return inner_.execute(batch);
  }
  void attach_progress(StepProgress* progress) override { inner_.attach_progress(progress); }
  void abort_step(const Status& why) override {
    inner_.abort_step(why);
    std::this_thread::sleep_for(300ms);
  }

 private:
  Executor& inner_;
};

// Regression: the watchdog aborted the step before failing its requests, so
// the returning step could end them first with a 500-class INTERNAL "model
// step failed" instead of the stall's retryable UNAVAILABLE.
TEST(WatchdogRealTimeTest, StalledRequestsGetTheStallErrorEvenWhenTheStepReturnsFirst) {
  auto fake = FakeExecutor::create({});
  ASSERT_TRUE(fake.ok());
  SlowAbortExecutor exec(**fake);
  fault::ScopedFaults faults("step.stall:nth=1:stall=30s");
  auto engine = start_real_time(exec, 200ms, 10ms);
  ASSERT_TRUE(engine.ok());
  auto stalled = (*engine)->submit(small_request());
  ASSERT_TRUE(stalled.ok());
  auto out = (*stalled)->collect(Deadline::after(5s));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(out->final_info->status.code(), StatusCode::kUnavailable)
      << out->final_info->status.to_string();
  EXPECT_NE(out->final_info->status.message().find("stalled"), std::string_view::npos)
      << out->final_info->status.to_string();
  EXPECT_TRUE((*engine)->stop_loop().ok());
}

}  // namespace
}  // namespace keel::engine
