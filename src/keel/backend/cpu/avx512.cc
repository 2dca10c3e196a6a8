// kAvx512 variant (AVX512F/BW/VL/DQ on top of AVX2). Compiled with those
// flags; called only after cpu_features() confirmed them (dispatch.cc).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "keel/backend/cpu/isa_kernels.h"
#include "keel/backend/cpu/scalar_convert.h"

namespace keel::backend::cpu {
namespace {

#include "keel/backend/cpu/avx512_traits.h"
#include "keel/backend/cpu/simd_impl.h"
#include "keel/backend/cpu/sampling_impl.h"

IsaKernels make() {
  IsaKernels t{};
  t.isa = Isa::kAvx512;
  // 32 zmm registers: GEMV 4 rows x 4 tokens, GEMM 4 rows x 6 tokens
  // (24 accumulators + 4 weight vectors + 1 activation).
  t.matmul_rows = &matmul_rows_impl<4, 4, 6>;
  fill_common(t);
  fill_sampling(t);
  return t;
}

}  // namespace

const IsaKernels& avx512_kernels() {
  static const IsaKernels t = make();
  return t;
}

}  // namespace keel::backend::cpu
