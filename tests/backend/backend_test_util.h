// Shared helpers for the backend kernel tests: random inputs, weights stored
// in each dtype, and the list of ISA variants this CPU can run.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "keel/backend/cpu/kernels.h"
#include "keel/backend/cpu_features.h"
#include "keel/backend/dtype.h"

namespace keel::backend::testing {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// Values stored in `type` (bytes), plus the same values as f32 (exact).
struct TypedBuffer {
  std::vector<uint8_t> bytes;
  std::vector<float> as_f32;
  DType type = DType::kF32;
  const void* data() const { return bytes.data(); }
  void* data() { return bytes.data(); }
};

inline TypedBuffer make_typed(const std::vector<float>& src, DType type) {
  TypedBuffer b;
  b.type = type;
  b.bytes.resize(src.size() * dtype_bytes(type));
  convert_from_f32(src.data(), src.size(), type, b.bytes.data());
  b.as_f32.resize(src.size());
  convert_to_f32(b.bytes.data(), type, src.size(), b.as_f32.data());
  return b;
}

inline std::string isa_param_name(Isa isa) { return std::string(isa_name(isa)); }

inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16};

}  // namespace keel::backend::testing
