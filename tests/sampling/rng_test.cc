#include "keel/sampling/rng.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace keel::sampling {
namespace {

// Reference outputs of splitmix64 seeded with 0 (Vigna's splitmix64.c, as
// used by Java's SplittableRandom).
TEST(RngTest, SplitMix64MatchesReference) {
  uint64_t state = 0;
  EXPECT_EQ(splitmix64_next(state), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(splitmix64_next(state), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(splitmix64_next(state), 0x06C45D188009454Full);
}

// Reference outputs of xoshiro256** from state {1, 2, 3, 4} (the test
// vector of the rand_xoshiro crate, taken from Vigna's C implementation).
TEST(RngTest, Xoshiro256StarStarMatchesReference) {
  Xoshiro256StarStar rng(1, 2, 3, 4);
  const uint64_t expected[] = {11520ull,
                               0ull,
                               1509978240ull,
                               1215971899390074240ull,
                               1216172134540287360ull,
                               607988272756665600ull,
                               16172922978634559625ull,
                               8476171486693032832ull,
                               10595114339597558777ull,
                               2904607092377533576ull};
  for (uint64_t value : expected) EXPECT_EQ(rng.next(), value);
}

TEST(RngTest, SameSeedSameStreamDifferentSeedDifferent) {
  Xoshiro256StarStar a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs |= x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(RngTest, NextDoubleIsInUnitInterval) {
  Xoshiro256StarStar rng(7);
  double sum = 0.0;
  constexpr int kDraws = 10000;
  for (int i = 0; i < kDraws; ++i) {
    const double u = rng.next_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / kDraws, 0.5, 0.02);
}

}  // namespace
}  // namespace keel::sampling
