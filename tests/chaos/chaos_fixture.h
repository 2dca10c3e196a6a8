// The chaos fixture: a real server (RealServerTest) under concurrent
// clients whose every request is bounded and classified — ok, failed as
// expected (a typed error naming the fault), unexpected, or hung — and a
// summary line per scenario, and the suite's total (tests/chaos/summary.py):
//   chaos: <scenario>: N faults injected, R requests (ok a, failed as expected b,
//   unexpected c), hangs 0
//   chaos summary: N faults injected in S scenarios, R requests, hangs 0
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keel/core/fault.h"
#include "server/real_server.h"

namespace keel::server::testing {

using namespace std::chrono_literals;

// A time bound for a scenario: a step timeout for the watchdog, or a
// client's bound on one request. Sanitizer builds run steps 5-20x slower:
// a step that legitimately runs past its timeout is (correctly) aborted by
// the watchdog, and a slow request past the client's bound counts as a
// hang, either of which would fail scenarios whose faults are meant to be
// absorbed; so they get 10x the bound.
inline std::chrono::milliseconds scaled_for_sanitizers(std::chrono::milliseconds t) {
#ifdef KEEL_SANITIZED
  return t * 10;
#else
  return t;
#endif
}

// Appends one scenario's counts to $KEEL_BUILD_DIR/chaos_summary.tsv
// (ctest runs every scenario in its own process; tests/chaos/summary.py adds
// them up): scenario, faults injected, requests, hangs.
inline void record_scenario(const std::string& scenario, uint64_t injected, int requests,
                            int hangs) {
  // The build folder: $KEEL_BUILD_DIR, else the one holding tests/<this binary>.
  const char* env = std::getenv("KEEL_BUILD_DIR");
  std::error_code ec;
  const std::filesystem::path dir =
      env != nullptr ? std::filesystem::path(env)
                     : std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().parent_path();
  if (ec || dir.empty()) return;
  std::FILE* f = std::fopen((dir / "chaos_summary.tsv").c_str(), "a");
  if (f == nullptr) return;
  std::fprintf(f, "%s\t%llu\t%d\t%d\n", scenario.c_str(),
               static_cast<unsigned long long>(injected), requests, hangs);
  std::fclose(f);
}

struct Tally {
  std::atomic<int> ok{0};
  std::atomic<int> expected_failures{0};
  std::atomic<int> unexpected{0};
  std::atomic<int> hangs{0};
  // Streams that ended in an error event: the longest time between the
  // output before it (or the request) and the error, in microseconds.
  std::atomic<int64_t> max_error_gap_us{0};
  std::mutex mu;
  std::vector<std::string> unexpected_samples;

  void error_gap(SteadyTime::duration d) {
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    int64_t seen = max_error_gap_us.load();
    while (us > seen && !max_error_gap_us.compare_exchange_weak(seen, us)) {
    }
  }

  void bad(const std::string& what) {
    ++unexpected;
    std::lock_guard<std::mutex> lock(mu);
    if (unexpected_samples.size() < 5) unexpected_samples.push_back(what);
  }
};

// One request with a client-side bound; classifies its outcome.
inline void one_request(int port, const Json& body, Tally& t, std::chrono::milliseconds bound) {
  RawConn c(port);
  if (!c.connected()) return t.bad("connect failed");
  c.send(build_request("POST", "/v1/completions", body.dump(), {}));
  const bool stream = body.value("stream", false);
  std::string raw;
  if (stream) {  // read as it comes, timing the error event against the output before it
    SteadyTime last_output = SteadyClock::now();
    const SteadyTime until = last_output + bound;
    while (raw.find("data: [DONE]") == std::string::npos && SteadyClock::now() < until) {
      const size_t before = raw.size();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      if (!c.read_some(raw, std::max(left, std::chrono::milliseconds(1)))) break;
      if (raw.size() == before) continue;
      if (raw.find("data: {\"error\"", before > 16 ? before - 16 : 0) != std::string::npos) {
        t.error_gap(SteadyClock::now() - last_output);
        break;
      }
      last_output = SteadyClock::now();
    }
  } else {
    raw = c.read_to_eof(bound);
    if (!c.eof()) return void(++t.hangs);
  }
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
          // A request of 48 tokens among 8 clients takes ~9 s under TSan,
          // where a 15 s bound counted slow requests as hangs.
          one_request(port_, body, t, scaled_for_sanitizers(15s));
        }
      });
    }
    for (auto& th : threads) th.join();
  }

  // `error_bound`: the longest a stream may wait for its error after its
  // last output (1 s + one step, plus the step timeout where the watchdog acts).
  void summarize(const std::string& scenario, Tally& t,
                 std::chrono::milliseconds error_bound = std::chrono::milliseconds(1500)) {
    const uint64_t injected = fault::total_injections();
    const double gap_ms = static_cast<double>(t.max_error_gap_us.load()) / 1000.0;
    std::printf("chaos: %s: %llu faults injected, %d requests (ok %d, failed as expected %d, "
                "unexpected %d), hangs %d; streamed errors <= %.1f ms after the output before\n",
                scenario.c_str(), static_cast<unsigned long long>(injected),
                t.ok + t.expected_failures + t.unexpected + t.hangs, t.ok.load(),
                t.expected_failures.load(), t.unexpected.load(), t.hangs.load(), gap_ms);
#ifdef KEEL_SANITIZED
    error_bound *= 10;  // sanitizer builds: slower steps, 10x step timeouts
#endif
    EXPECT_LE(gap_ms, static_cast<double>(error_bound.count())) << scenario;
    for (const auto& s : t.unexpected_samples) std::printf("  unexpected: %s\n", s.c_str());
    record_scenario(scenario, injected, t.ok + t.expected_failures + t.unexpected + t.hangs,
                    t.hangs);
    EXPECT_EQ(t.hangs, 0);
    EXPECT_EQ(t.unexpected, 0);
    EXPECT_GT(injected, 0u);
  }

  // Stats once every stalled step has returned: the watchdog fails a stalled
  // step's requests before the step thread gets back and counts the restart.
  engine::EngineStats stats_after_restarts(std::chrono::milliseconds within = 5s) {
    const auto until = SteadyClock::now() + within;
    engine::EngineStats st = engine_->stats();
    while (st.num_worker_restarts < st.num_stalls && !st.worker_lost &&
           SteadyClock::now() < until) {
      std::this_thread::sleep_for(5ms);
      st = engine_->stats();
    }
    return st;
  }

  // After the faults: disarmed, a request succeeds and the pool is whole.
  void expect_recovered() {
    fault::disarm_all();
    HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "after"}, {"max_tokens", 4}});
    EXPECT_EQ(r.status, 200) << r.body;
    expect_pool_whole();
  }
};

}  // namespace keel::server::testing
