// Chaos: fault points armed while a real server (engine + random-weight
// model + HTTP) serves concurrent clients. Every request ends — with its
// output, or a typed error naming the fault — within a bound; none hangs;
// requests after the faults succeed; the KV pool is whole after every
// scenario. The suite prints one summary line per scenario:
//   chaos: <scenario>: N faults injected, R requests (ok a, failed as expected b,
//   unexpected c), hangs 0
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "chaos/chaos_fixture.h"
#include "common/fork_util.h"
#include "keel/core/fault.h"

namespace keel::server::testing {
namespace {

TEST_F(ChaosTest, KernelErrorsFailTheirStepsOnly) {
  start();
  fault::ScopedFaults f("kernel.error:p=0.01:seed=7");
  Tally t;
  load(t, 8, 12, 16);
  summarize("kernel.error p=0.01", t);
  EXPECT_GT(t.ok, 0);
  expect_recovered();
}

TEST_F(ChaosTest, KvBlockAllocationFailuresPreemptAndRecover) {
  start();
  // A refused block allocation is a pool running short: the request is
  // preempted (recompute) and resumes; the client sees only latency.
  fault::ScopedFaults f("kv_pool.alloc_blocks:p=0.3:seed=9");
  Tally t;
  load(t, 8, 16, 48);
  summarize("kv_pool.alloc_blocks p=0.3", t);
  EXPECT_EQ(t.ok, 8 * 16) << "block allocation failures must not fail requests";
  EXPECT_GT(engine_->stats().num_preemptions, 0);
  expect_recovered();
}

TEST_F(ChaosTest, StalledStepsAreFailedByTheWatchdogAndServingGoesOn) {
  RealServerOptions o;
  o.step_timeout = scaled_for_sanitizers(200ms);
  start(o);
  fault::ScopedFaults f("step.stall:p=0.01:seed=3:stall=20s");
  Tally t;
  load(t, 6, 8, 16);
  summarize("step.stall p=0.01 (step timeout 200 ms)", t);
  const engine::EngineStats st = stats_after_restarts();
  EXPECT_EQ(st.num_worker_restarts, st.num_stalls);
  EXPECT_FALSE(st.worker_lost);
  expect_recovered();
}

TEST_F(ChaosTest, TokenizerStallFailsOnlyItsRequest) {
  RealServerOptions o;
  o.tokenize_timeout = 300ms;
  start(o);
  fault::ScopedFaults f("tokenizer.stall:nth=1:stall=20s");
  HttpResponse stalled;
  std::thread a([&] {
    stalled = complete({{"model", "tiny-qwen2"}, {"prompt", "stalls"}, {"max_tokens", 4}});
  });
  std::this_thread::sleep_for(50ms);
  HttpResponse other = complete({{"model", "tiny-qwen2"}, {"prompt", "fine"}, {"max_tokens", 4}});
  a.join();
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(stalled.status, 504) << stalled.body;
  EXPECT_NE(stalled.body.find("tokenizing the prompt did not finish within 300 ms"),
            std::string::npos)
      << stalled.body;
  expect_recovered();
}

TEST_F(ChaosTest, TokenizerErrorIsA500WithARequestId) {
  start();
  fault::ScopedFaults f("tokenizer.error:nth=1");
  HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 4}});
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("injected fault tokenizer.error"), std::string::npos) << r.body;
  EXPECT_FALSE(r.header("x-request-id").empty());
  expect_recovered();
}

// A child forked while the server streams (HTTP threads, the engine loop
// and the tokenizer pool busy) tokenizes in parallel without deadlock.
TEST_F(ChaosTest, ForkWhileServingThenTokenizeInParallel) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  KEEL_SKIP_FORK_WHILE_ALLOCATING_UNDER_TSAN();
  start();
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop) {
      complete({{"model", "tiny-qwen2"}, {"prompt", "busy busy busy"}, {"max_tokens", 8}});
    }
  });
  std::this_thread::sleep_for(100ms);
  auto tok = tokenizer::Tokenizer::from_path(real_model_dir());
  ASSERT_TRUE(tok.ok());
  for (int round = 0; round < 5; ++round) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::vector<std::string> texts(64, "The child tokenizes this sentence, 日本語 too.");
      auto ids = tok->encode_batch(texts, true, Deadline::after(10s));
      ::_exit(ids.ok() && ids->size() == 64 ? 0 : 1);
    }
    int status = 0;
    const auto until = SteadyClock::now() + 20s;
    pid_t r = 0;
    while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 && SteadyClock::now() < until) {
      std::this_thread::sleep_for(5ms);
    }
    if (r == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    EXPECT_EQ(r, pid) << "the forked child hung (round " << round << ")";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
  }
  stop = true;
  busy.join();
}

}  // namespace
}  // namespace keel::server::testing
