// measure_read_bandwidth: argument checks and the shape of its result (the
// speed itself is a benchmark, see bench/README.md, never asserted here).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "keel/backend/cpu/bandwidth.h"

namespace keel::backend {
namespace {

TEST(Bandwidth, RejectsSmallBuffersAndNoRepetitions) {
  auto buf = std::make_unique<uint64_t[]>((size_t{1} << 20) / sizeof(uint64_t));
  EXPECT_EQ(measure_read_bandwidth(buf.get(), (size_t{1} << 20) - 8, 1, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(measure_read_bandwidth(buf.get(), size_t{1} << 20, 0, nullptr).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(measure_read_bandwidth(nullptr, size_t{1} << 20, 1, nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Bandwidth, ReportsEveryThreadsShareAndOrderedStatistics) {
  const size_t bytes = (size_t{8} << 20) + 24;  // not a multiple of any thread's share
  auto buf = std::make_unique<uint64_t[]>(bytes / sizeof(uint64_t));
  std::memset(buf.get(), 1, bytes);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    auto r = measure_read_bandwidth(buf.get(), bytes, 3, threads == 1 ? nullptr : &pool);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->reps, 3);
    EXPECT_EQ(r->threads, threads == 1 ? 1 : threads);
    EXPECT_LE(r->bytes, bytes);
    EXPECT_GT(r->bytes, bytes - 1024 * static_cast<size_t>(threads));  // shares cover the buffer
    EXPECT_GT(r->median_gb_per_s, 0);
    EXPECT_GE(r->best_gb_per_s, r->median_gb_per_s);
  }
}

}  // namespace
}  // namespace keel::backend
