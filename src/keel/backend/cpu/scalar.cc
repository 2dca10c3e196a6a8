// kScalar variant: the shared kernel bodies with one-lane "vectors" (plain
// C++, runs on any CPU).
#include <cmath>
#include <cstdint>

#include "keel/backend/cpu/isa_kernels.h"
#include "keel/backend/cpu/scalar_convert.h"

namespace keel::backend::cpu {
namespace {

struct S {
  using F = float;
  static constexpr int kLanes = 1;
  static F zero() { return 0.0f; }
  static F set1(float a) { return a; }
  static F load(const float* p) { return *p; }
  static F load_f16(const uint16_t* p) { return detail::scalar_f16_to_f32(*p); }
  static F load_bf16(const uint16_t* p) { return detail::scalar_bf16_to_f32(*p); }
  static void store(float* p, F v) { *p = v; }
  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F mul(F a, F b) { return a * b; }
  static F div(F a, F b) { return a / b; }
  static F fma(F a, F b, F c) { return a * b + c; }
  static F max(F a, F b) { return a > b ? a : b; }
  static F keep_ge(F v, F key, F thr) { return key >= thr ? v : 0.0f; }
  static uint32_t mask_ge(F a, F b) { return a >= b ? 1u : 0u; }
  static uint32_t mask_nlt(F a, F b) { return !(a < b) ? 1u : 0u; }
  static float reduce_add(F v) { return v; }
  static float reduce_max(F v) { return v; }
  static F exp(F x) { return std::exp(x); }
};

#include "keel/backend/cpu/simd_impl.h"
#include "keel/backend/cpu/sampling_impl.h"

IsaKernels make() {
  IsaKernels t{};
  t.isa = Isa::kScalar;
  t.matmul_rows = &matmul_rows_impl<4, 4, 4>;
  fill_common(t);
  fill_sampling(t);
  return t;
}

}  // namespace

const IsaKernels& scalar_kernels() {
  static const IsaKernels t = make();
  return t;
}

}  // namespace keel::backend::cpu
