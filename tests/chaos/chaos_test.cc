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

#include "common/fork_util.h"
#include "keel/core/fault.h"
#include "server/real_server.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

struct Tally {
  std::atomic<int> ok{0};
  std::atomic<int> expected_failures{0};
  std::atomic<int> unexpected{0};
  std::atomic<int> hangs{0};
  std::mutex mu;
  std::vector<std::string> unexpected_samples;

  void bad(const std::string& what) {
    ++unexpected;
    std::lock_guard<std::mutex> lock(mu);
    if (unexpected_samples.size() < 5) unexpected_samples.push_back(what);
  }
};

// One request with a client-side bound; classifies its outcome.
void one_request(int port, const Json& body, Tally& t, std::chrono::milliseconds bound) {
  RawConn c(port);
  if (!c.connected()) return t.bad("connect failed");
  c.send(build_request("POST", "/v1/completions", body.dump(), {}));
  const bool stream = body.value("stream", false);
  std::string raw = c.read_until(
      [&](const std::string& d) {
        if (stream) return d.find("data: [DONE]") != std::string::npos ||
                           d.find("data: {\"error\"") != std::string::npos;
        return false;
      },
      bound);
  if (!stream && !c.eof()) return void(++t.hangs);
  HttpResponse r = parse_response(raw);
  if (stream && r.status == 200 && raw.find("data: [DONE]") == std::string::npos &&
      raw.find("data: {\"error\"") == std::string::npos) {
    return void(++t.hangs);
  }
  const bool fault_named = raw.find("injected fault") != std::string::npos ||
                           raw.find("engine step stalled") != std::string::npos;
  if (r.status == 200 && raw.find("\"error\"") == std::string::npos) {
    ++t.ok;
  } else if ((r.status == 500 || r.status == 503 || r.status == 504 || r.status == 200) &&
             fault_named) {
    ++t.expected_failures;  // a typed error naming the fault (status, or SSE error event)
  } else {
    t.bad(std::to_string(r.status) + " " + r.body.substr(0, 200));
  }
}

class ChaosTest : public RealServerTest {
 protected:
  // `clients` threads send `per_client` requests each (half streaming).
  void load(Tally& t, int clients, int per_client, int max_tokens) {
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        for (int i = 0; i < per_client; ++i) {
          Json body = {{"model", "tiny-qwen2"}, {"prompt", "chaos " + std::to_string(c * 1000 + i)},
                       {"max_tokens", max_tokens}, {"ignore_eos", true}, {"temperature", 0.7},
                       {"seed", i}, {"stream", (i + c) % 2 == 0}};
          one_request(port_, body, t, 15s);
        }
      });
    }
    for (auto& th : threads) th.join();
  }

  void summarize(const std::string& scenario, Tally& t) {
    const uint64_t injected = fault::total_injections();
    std::printf("chaos: %s: %llu faults injected, %d requests (ok %d, failed as expected %d, "
                "unexpected %d), hangs %d\n",
                scenario.c_str(), static_cast<unsigned long long>(injected),
                t.ok + t.expected_failures + t.unexpected + t.hangs, t.ok.load(),
                t.expected_failures.load(), t.unexpected.load(), t.hangs.load());
    for (const auto& s : t.unexpected_samples) std::printf("  unexpected: %s\n", s.c_str());
    EXPECT_EQ(t.hangs, 0);
    EXPECT_EQ(t.unexpected, 0);
    EXPECT_GT(injected, 0u);
  }

  // After the faults: disarmed, a request succeeds and the pool is whole.
  void expect_recovered() {
    fault::disarm_all();
    HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "after"}, {"max_tokens", 4}});
    EXPECT_EQ(r.status, 200) << r.body;
    expect_pool_whole();
  }
};

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
  o.step_timeout = 200ms;
  start(o);
  fault::ScopedFaults f("step.stall:p=0.01:seed=3:stall=20s");
  Tally t;
  load(t, 6, 8, 16);
  summarize("step.stall p=0.01 (step timeout 200 ms)", t);
  const engine::EngineStats st = engine_->stats();
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
