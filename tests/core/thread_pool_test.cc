#include "keel/core/thread_pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <numeric>
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

// Forks; the child runs a parallel sum on `pool` and exits 0 on success.
int fork_and_sum(ThreadPool& pool) {
  pid_t pid = fork();
  if (pid == 0) {
    bool ok = parallel_sum_ok(pool, 1000);
    _exit(ok ? 0 : 1);
  }
  return wait_child(pid, 10s);
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
