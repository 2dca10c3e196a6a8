// Deterministic random numbers for sampling: xoshiro256** (Blackman & Vigna)
// seeded through splitmix64, as their reference code recommends.
//
// Both are defined on 64-bit integers only, so a seed gives the same stream
// on every platform and compiler. next_double() maps the top 53 bits to
// [0, 1) exactly. Not thread-safe: one generator per request.
#pragma once

#include <cstdint>

namespace keel::sampling {

// One splitmix64 step: advances `state` and returns the next output.
inline uint64_t splitmix64_next(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Xoshiro256StarStar {
 public:
  // State filled with four splitmix64 outputs of `seed` (never all zero).
  explicit Xoshiro256StarStar(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = splitmix64_next(sm);
  }
  // Raw state, for reference tests; must not be all zero.
  Xoshiro256StarStar(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3)
      : s_{s0, s1, s2, s3} {}

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1), multiples of 2^-53.
  double next_double() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace keel::sampling
