// parallel_chunks: partitions exactly, stays inline for small work, runs
// chunks on the caller plus the pool's helpers (compute mode), and on a
// deadline returns only after every chunk that started has finished (chunks
// touch caller-owned buffers), with no chunk starting afterwards.
#include "keel/backend/cpu/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
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
  EXPECT_NE(s.message().find("CPU kernel"), std::string_view::npos) << s.message();
  // Every chunk that started has finished before the call returned.
  EXPECT_EQ(started.load(), finished.load());
  const int at_return = started.load();
  EXPECT_LT(at_return, 8);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(started.load(), at_return) << "a chunk ran after the call returned";
}

TEST(ParallelChunks, ExactPartitionAcrossManyCalls) {
  // Back-to-back calls (helpers spinning) with varying shapes: every index
  // exactly once per call, chunks aligned, no more than 4 x threads chunks.
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(700);
    uint32_t rng = 12345;
    for (int call = 0; call < 1500; ++call) {
      rng = rng * 1664525u + 1013904223u;
      const int64_t n = 1 + static_cast<int64_t>(rng >> 8) % static_cast<int64_t>(hits.size());
      const int64_t align = int64_t{1} << ((rng >> 4) % 4);
      const int64_t min_chunk = 1 + static_cast<int64_t>(rng >> 20) % 50;
      for (int64_t i = 0; i < n; ++i) hits[static_cast<size_t>(i)].store(0);
      std::atomic<int> chunks{0};
      auto fn = [&](int64_t b, int64_t e) {
        chunks.fetch_add(1);
        if (b % align != 0 || b >= e) ADD_FAILURE() << "bad chunk [" << b << ", " << e << ")";
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      };
      ASSERT_TRUE(parallel_chunks(&pool, n, align, min_chunk, fn, Deadline::after(10s)).ok());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "call " << call << " n " << n;
      }
      EXPECT_LE(chunks.load(), kChunksPerThread * threads);
    }
  }
}

TEST(ParallelChunks, CallerAndHelperBothRunChunks) {
  // Two chunks that each wait (bounded) for the other to start: only possible
  // with two threads, and a 2-thread pool has one helper, so one of them is
  // the caller.
  ThreadPool pool(2);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> arrived{0};
  auto fn = [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> l(mu);
      ids.insert(std::this_thread::get_id());
    }
    arrived.fetch_add(1);
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (arrived.load() < 2 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(100us);
    }
  };
  ASSERT_TRUE(parallel_chunks(&pool, 2, 1, 1, fn, Deadline::after(20s)).ok());
  EXPECT_EQ(arrived.load(), 2);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u);
}

TEST(ParallelChunks, ConcurrentCallersOnOnePool) {
  ThreadPool pool(2);
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      std::vector<int> hits(257);
      for (int k = 0; k < 200; ++k) {
        std::fill(hits.begin(), hits.end(), 0);
        auto fn = [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];  // disjoint chunks
        };
        bool good = parallel_chunks(&pool, 257, 4, 8, fn, Deadline::after(10s)).ok();
        for (int h : hits) good = good && h == 1;
        ok += good ? 1 : 0;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(ok.load(), 4 * 200);
}

TEST(ParallelChunks, OnePoolThreadRunsInline) {
  ThreadPool pool(1);
  const auto caller = std::this_thread::get_id();
  int calls = 0;
  auto fn = [&](int64_t b, int64_t e) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 1000);
    EXPECT_EQ(std::this_thread::get_id(), caller);
  };
  ASSERT_TRUE(parallel_chunks(&pool, 1000, 1, 1, fn, Deadline::after(10s)).ok());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace keel::backend::cpu
