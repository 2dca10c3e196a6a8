#include "keel/core/logging.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace keel::log {
namespace {

using namespace std::chrono_literals;

TEST(LogThrottleTest, PassesABurstPerWindowAndCountsTheRest) {
  FakeClock clock;
  LogThrottle t(/*burst=*/2, 1000ms, clock);
  EXPECT_EQ(t.admit(), 0);
  EXPECT_EQ(t.admit(), 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.admit(), std::nullopt);
  clock.advance(999ms);
  EXPECT_EQ(t.admit(), std::nullopt);  // still the first window
  clock.advance(1ms);
  EXPECT_EQ(t.admit(), 6);  // a new window: says how many were dropped
  EXPECT_EQ(t.admit(), 0);
  EXPECT_EQ(t.admit(), std::nullopt);
  clock.advance(5s);
  EXPECT_EQ(t.admit(), 1);
}

TEST(LogThrottleTest, ConcurrentCallersNeitherLoseNorDoubleCountLines) {
  FakeClock clock;
  LogThrottle t(/*burst=*/10, 1000ms, clock);
  std::atomic<int64_t> passed{0}, dropped{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (t.admit()) ++passed;
        else ++dropped;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(passed.load(), 10);
  EXPECT_EQ(dropped.load(), 3990);
  clock.advance(1s);
  EXPECT_EQ(t.admit(), 3990);
}

}  // namespace
}  // namespace keel::log
