// parallel_chunks: partitions exactly, stays inline for small work, and on a
// deadline returns only after every chunk that started has finished (chunks
// touch caller-owned buffers), with no chunk starting afterwards.
#include "keel/backend/cpu/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace keel::backend::cpu {
namespace {

using namespace std::chrono_literals;

TEST(ParallelChunks, CoversEveryIndexOnce) {
  ThreadPool pool(2);
  for (int64_t n : {1, 2, 15, 16, 17, 100, 1000}) {
    for (int64_t align : {1, 4, 16}) {
      for (int64_t min_chunk : {1, 8, 64}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        auto fn = [&](int64_t b, int64_t e) {
          if (b % align != 0) ADD_FAILURE() << "unaligned chunk start " << b;
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        };
        ASSERT_TRUE(parallel_chunks(&pool, n, align, min_chunk, fn, Deadline::after(10s)).ok());
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n;
      }
    }
  }
}

TEST(ParallelChunks, SmallWorkRunsOnCaller) {
  ThreadPool pool(2);
  const auto caller = std::this_thread::get_id();
  bool on_caller = false;
  auto fn = [&](int64_t, int64_t) { on_caller = std::this_thread::get_id() == caller; };
  ASSERT_TRUE(parallel_chunks(&pool, 10, 1, 100, fn, Deadline::after(10s)).ok());
  EXPECT_TRUE(on_caller);
  ASSERT_TRUE(parallel_chunks(nullptr, 1000, 1, 1, fn, Deadline::after(10s)).ok());
  EXPECT_TRUE(on_caller);
}

TEST(ParallelChunks, DeadlineWaitsForRunningChunksAndStartsNoMore) {
  ThreadPool pool(2);
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  auto fn = [&](int64_t, int64_t) {
    started.fetch_add(1);
    std::this_thread::sleep_for(100ms);
    finished.fetch_add(1);
  };
  Status s = parallel_chunks(&pool, 8, 1, 1, fn, Deadline::after(30ms));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
  // Every chunk that started has finished before the call returned.
  EXPECT_EQ(started.load(), finished.load());
  const int at_return = started.load();
  EXPECT_LT(at_return, 8);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(started.load(), at_return) << "a chunk ran after the call returned";
}

}  // namespace
}  // namespace keel::backend::cpu
