#include "keel/core/thread_pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

#include "common/fork_util.h"

namespace keel {
namespace {

using namespace std::chrono_literals;

// Sums 0..n-1 in parallel; returns true if the result is right.
bool parallel_sum_ok(ThreadPool& pool, size_t n) {
  auto parts = std::make_shared<std::vector<uint64_t>>(n);
  Status s = pool.parallel_for(n, [parts](size_t i) { (*parts)[i] = i; }, Deadline::after(10s));
  if (!s.ok()) return false;
  return std::accumulate(parts->begin(), parts->end(), uint64_t{0}) == n * (n - 1) / 2;
}

// The same through compute mode (caller participates; a borrowed callable).
bool compute_sum_ok(ThreadPool& pool, size_t n) {
  std::vector<uint64_t> parts(n, 0);
  std::vector<std::atomic<int>> hits(n);
  auto chunk = [&](size_t i) {
    parts[i] = i;
    hits[i].fetch_add(1);
  };
  Status s = pool.run_chunks(n, chunk, Deadline::after(10s));
  if (!s.ok()) return false;
  for (auto& h : hits) {
    if (h.load() != 1) return false;
  }
  return std::accumulate(parts.begin(), parts.end(), uint64_t{0}) == n * (n - 1) / 2;
}

// Waits for `pid` at most `timeout`; kills it and returns -1 if it hangs.
int wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Deadline::after(timeout);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (deadline.expired()) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(2ms);
  }
}

// Forks; the child runs a parallel sum on `pool` in both modes and exits 0 on
// success.
int fork_and_sum(ThreadPool& pool) {
  pid_t pid = fork();
  if (pid == 0) {
    bool ok = parallel_sum_ok(pool, 1000) && compute_sum_ok(pool, 1000);
    for (int k = 0; ok && k < 20; ++k) ok = compute_sum_ok(pool, 8);
    _exit(ok ? 0 : 1);
  }
  return wait_child(pid, 10s);
}

// Runs n chunks where each waits (bounded) until `want` chunks are running at
// once; returns the set of threads that ran them. Succeeds only if `want`
// threads really run chunks concurrently.
std::set<std::thread::id> rendezvous(ThreadPool& pool, size_t n, int want, Status* status) {
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> arrived{0};
  auto chunk = [&](size_t) {
    {
      std::lock_guard<std::mutex> l(mu);
      ids.insert(std::this_thread::get_id());
    }
    arrived.fetch_add(1);
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (arrived.load() < want && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(100us);
    }
  };
  *status = pool.run_chunks(n, chunk, Deadline::after(20s));
  EXPECT_GE(arrived.load(), want);
  return ids;
}

TEST(ThreadPoolTest, RunsEveryIndexOnce) {
  ThreadPool pool(4);
  auto hits = std::make_shared<std::vector<std::atomic<int>>>(10000);
  ASSERT_TRUE(pool.parallel_for(hits->size(), [hits](size_t i) { (*hits)[i]++; },
                                Deadline::after(10s))
                  .ok());
  for (auto& h : *hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPoolTest, SingleWorkerPool) {
  ThreadPool pool(1);
  EXPECT_TRUE(parallel_sum_ok(pool, 100));
}

TEST(ThreadPoolTest, ManyConcurrentCallers) {
  ThreadPool pool(3);
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&] {
      for (int k = 0; k < 50; ++k) ok += parallel_sum_ok(pool, 64) ? 1 : 0;
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(ok.load(), 8 * 50);
}

TEST(ThreadPoolTest, StalledTaskGivesDeadlineExceeded) {
  ThreadPool pool(2);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto start = std::chrono::steady_clock::now();
  Status s = pool.parallel_for(
      4,
      [release](size_t i) {
        if (i == 0) {
          while (!release->load()) std::this_thread::sleep_for(1ms);
        }
      },
      Deadline::after(200ms));
  auto took = std::chrono::steady_clock::now() - start;
  release->store(true);
  ASSERT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
  EXPECT_NE(s.message().find("still running"), std::string_view::npos) << s.message();
  EXPECT_LT(took, 5s);
  // The pool still works afterwards.
  EXPECT_TRUE(parallel_sum_ok(pool, 100));
}

TEST(ThreadPoolTest, TaskExceptionBecomesInternalError) {
  ThreadPool pool(2);
  Status s = pool.parallel_for(
      8, [](size_t i) { if (i == 3) throw std::runtime_error("bad index 3"); },
      Deadline::after(10s));
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("bad index 3"), std::string_view::npos);
}

// ---- compute mode (run_chunks) --------------------------------------------

TEST(ThreadPoolComputeTest, RunsEveryIndexOnceAcrossManyCalls) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(64);
    for (int call = 0; call < 2000; ++call) {
      const size_t n = 1 + static_cast<size_t>(call) % hits.size();
      for (size_t i = 0; i < n; ++i) hits[i].store(0);
      auto chunk = [&](size_t i) { hits[i].fetch_add(1); };
      ASSERT_TRUE(pool.run_chunks(n, chunk, Deadline::after(10s)).ok());
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(hits[i].load(), 1) << "threads " << threads << " call " << call << " i " << i;
      }
    }
  }
}

TEST(ThreadPoolComputeTest, ZeroChunksIsOk) {
  ThreadPool pool(2);
  auto chunk = [](size_t) { ADD_FAILURE() << "ran a chunk of an empty call"; };
  EXPECT_TRUE(pool.run_chunks(0, chunk, Deadline::after(10s)).ok());
}

TEST(ThreadPoolComputeTest, CallerPlusHelpersMakeNumThreads) {
  // A pool of N threads gives N-way parallelism: the caller and N-1 helpers.
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    Status s;
    const auto ids = rendezvous(pool, static_cast<size_t>(threads), threads, &s);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(ids.size(), static_cast<size_t>(threads));
    EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u) << "the caller ran no chunk";
  }
}

TEST(ThreadPoolComputeTest, SingleThreadPoolRunsOnCaller) {
  ThreadPool pool(1);
  std::set<std::thread::id> ids;
  auto chunk = [&](size_t) { ids.insert(std::this_thread::get_id()); };
  ASSERT_TRUE(pool.run_chunks(16, chunk, Deadline::after(10s)).ok());
  EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(ThreadPoolComputeTest, DeadlineWaitsForRunningChunksAndStartsNoMore) {
  ThreadPool pool(2);
  // The first call starts the workers, which alone can outlast the 30 ms
  // deadline under TSan: start them before the timed call.
  ASSERT_TRUE(compute_sum_ok(pool, 100));
  std::atomic<int> started{0}, finished{0};
  auto chunk = [&](size_t) {
    started.fetch_add(1);
    std::this_thread::sleep_for(100ms);  // past the deadline (a test-only blocking chunk)
    finished.fetch_add(1);
  };
  Status s = pool.run_chunks(8, chunk, Deadline::after(30ms));
  ASSERT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
  EXPECT_NE(s.message().find("not started"), std::string_view::npos) << s.message();
  // Every chunk that started had finished when the call returned...
  EXPECT_EQ(started.load(), finished.load());
  const int at_return = started.load();
  EXPECT_GE(at_return, 1);
  EXPECT_LT(at_return, 8);
  // ...and none starts afterwards.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(started.load(), at_return) << "a chunk ran after the call returned";
  EXPECT_TRUE(compute_sum_ok(pool, 100));  // the pool still works
}

TEST(ThreadPoolComputeTest, ExpiredDeadlineRunsNothing) {
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    std::atomic<int> ran{0};
    auto chunk = [&](size_t) { ran.fetch_add(1); };
    Status s = pool.run_chunks(8, chunk, Deadline::after(-1ms));
    EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
    EXPECT_EQ(ran.load(), 0);
  }
}

TEST(ThreadPoolComputeTest, ChunkExceptionBecomesInternalError) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::atomic<int> ran{0};
    auto chunk = [&](size_t i) {
      ran.fetch_add(1);
      if (i == 3) throw std::runtime_error("bad chunk 3");
    };
    Status s = pool.run_chunks(8, chunk, Deadline::after(10s));
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    EXPECT_NE(s.message().find("bad chunk 3"), std::string_view::npos) << s.message();
    EXPECT_EQ(ran.load(), 8);  // the other chunks still ran
    EXPECT_TRUE(compute_sum_ok(pool, 50));  // and the error does not stick
  }
}

TEST(ThreadPoolComputeTest, ConcurrentCallersAllComplete) {
  // Calls from several threads on one pool: one at a time gets the helpers,
  // the others run their chunks on their own thread; every call is complete.
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::thread> callers;
    std::atomic<int> ok{0};
    for (int t = 0; t < 6; ++t) {
      callers.emplace_back([&, t] {
        for (int k = 0; k < 300; ++k) {
          ok += compute_sum_ok(pool, 1 + static_cast<size_t>(t + k) % 40) ? 1 : 0;
        }
      });
    }
    for (auto& c : callers) c.join();
    EXPECT_EQ(ok.load(), 6 * 300);
  }
}

TEST(ThreadPoolComputeTest, MixedWithTaskModeCallers) {
  ThreadPool pool(3);
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int k = 0; k < 100; ++k) {
        ok += (t % 2 == 0 ? compute_sum_ok(pool, 33) : parallel_sum_ok(pool, 33)) ? 1 : 0;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(ok.load(), 4 * 100);
}

TEST(ThreadPoolComputeTest, NestedCallRunsInline) {
  // A chunk calling back into its own pool must not wait for the outer call.
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(8 * 8);
  auto outer = [&](size_t i) {
    auto inner = [&](size_t j) { hits[i * 8 + j].fetch_add(1); };
    Status s = pool.run_chunks(8, inner, Deadline::after(10s));
    if (!s.ok()) ADD_FAILURE() << s.to_string();
  };
  ASSERT_TRUE(pool.run_chunks(8, outer, Deadline::after(10s)).ok());
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPoolComputeTest, CallsAfterIdleGapsWakeHelpers) {
  // Helpers stop spinning and sleep between these calls; each call still
  // completes, and the helpers still join in once woken.
  ThreadPool pool(2);
  pool.set_spin(std::chrono::microseconds(20));
  for (int k = 0; k < 20; ++k) {
    std::this_thread::sleep_for(2ms);
    ASSERT_TRUE(compute_sum_ok(pool, 16)) << k;
  }
  Status s;
  const auto ids = rendezvous(pool, 2, 2, &s);  // needs the sleeping helper
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(ids.size(), 2u);
}

TEST(ThreadPoolComputeTest, NoSpinStillWorks) {
  ThreadPool pool(3);
  pool.set_spin(std::chrono::microseconds(0));
  EXPECT_EQ(pool.spin().count(), 0);
  for (int k = 0; k < 200; ++k) ASSERT_TRUE(compute_sum_ok(pool, 24)) << k;
}

TEST(ThreadPoolComputeTest, PoolsComeAndGoWhileHelpersSpin) {
  // Destruction stops spinning and sleeping helpers promptly.
  for (int k = 0; k < 30; ++k) {
    ThreadPool pool(3);
    pool.set_spin(std::chrono::microseconds(1000));
    ASSERT_TRUE(compute_sum_ok(pool, 64));
    ASSERT_TRUE(parallel_sum_ok(pool, 64));
  }
}

TEST(ThreadPoolComputeTest, FunctionRefCallsTheReferencedCallable) {
  int calls = 0;
  auto f = [&calls](size_t i) { calls += static_cast<int>(i); };
  FunctionRef<void(size_t)> ref = f;
  FunctionRef<void(size_t)> copy = ref;
  ref(2);
  copy(3);
  EXPECT_EQ(calls, 5);
  const auto g = [](int a, int b) { return a * b; };
  FunctionRef<int(int, int)> mul = g;
  EXPECT_EQ(mul(6, 7), 42);
}

// ---- fork -----------------------------------------------------------------

TEST(ThreadPoolForkTest, ForkAfterUse) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  ThreadPool pool(3);
  ASSERT_TRUE(parallel_sum_ok(pool, 1000));
  EXPECT_EQ(fork_and_sum(pool), 0);
  EXPECT_TRUE(parallel_sum_ok(pool, 1000));  // parent unaffected
}

TEST(ThreadPoolForkTest, ForkWhileWorkersBusy) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  ThreadPool pool(3);
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    while (!stop.load()) {
      auto sink = std::make_shared<std::atomic<uint64_t>>(0);
      (void)pool.parallel_for(
          256,
          [sink](size_t i) {
            uint64_t x = i;
            for (int k = 0; k < 2000; ++k) x = x * 6364136223846793005ull + 1;
            sink->fetch_add(x);
          },
          Deadline::after(10s));
    }
  });
  std::this_thread::sleep_for(20ms);
  for (int k = 0; k < 10; ++k) EXPECT_EQ(fork_and_sum(pool), 0) << "fork " << k;
  stop.store(true);
  busy.join();
}

TEST(ThreadPoolForkTest, ForkWhileComputeCallsRun) {
  // Another thread makes back-to-back compute calls (helpers spinning, claims
  // in flight, maybe the compute slot held) while this one forks; the child
  // rebuilds the pool and uses both modes at once.
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  ThreadPool pool(2);
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::thread busy([&] {
    std::vector<uint64_t> sink(64);
    while (!stop.load()) {
      auto chunk = [&sink](size_t i) {
        uint64_t x = i;
        for (int k = 0; k < 2000; ++k) x = x * 6364136223846793005ull + 1;
        sink[i] += x;
      };
      if (!pool.run_chunks(sink.size(), chunk, Deadline::after(10s)).ok()) ADD_FAILURE();
      calls.fetch_add(1);
    }
  });
  while (calls.load() < 10) std::this_thread::sleep_for(1ms);
  for (int k = 0; k < 20; ++k) EXPECT_EQ(fork_and_sum(pool), 0) << "fork " << k;
  stop.store(true);
  busy.join();
  EXPECT_TRUE(compute_sum_ok(pool, 1000));  // parent unaffected
}

TEST(ThreadPoolForkTest, ForkFromInsideComputeChunk) {
  // fork() while this very thread holds the compute slot: the child's pool
  // is fresh, so the child's own compute calls get helpers again.
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  ThreadPool pool(2);
  int child_result = -2;
  auto chunk = [&](size_t i) {
    if (i != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
      Status s;
      const auto ids = rendezvous(pool, 2, 2, &s);
      _exit(s.ok() && ids.size() == 2 && compute_sum_ok(pool, 100) ? 0 : 1);
    }
    child_result = wait_child(pid, 20s);
  };
  ASSERT_TRUE(pool.run_chunks(2, chunk, Deadline::after(30s)).ok());
  EXPECT_EQ(child_result, 0);
}

TEST(ThreadPoolForkTest, TwoHundredForks) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  ThreadPool pool(2);
  ASSERT_TRUE(parallel_sum_ok(pool, 100));
  int failures = 0;
  for (int k = 0; k < 200; ++k) failures += fork_and_sum(pool) != 0;
  EXPECT_EQ(failures, 0);
}

TEST(ThreadPoolForkTest, GlobalPoolInChildOfChild) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  ThreadPool& pool = ThreadPool::global();
  ASSERT_TRUE(parallel_sum_ok(pool, 100));
  pid_t pid = fork();
  if (pid == 0) {
    int grandchild = fork_and_sum(pool);
    _exit(grandchild == 0 && parallel_sum_ok(pool, 100) ? 0 : 1);
  }
  EXPECT_EQ(wait_child(pid, 20s), 0);
}

}  // namespace
}  // namespace keel
