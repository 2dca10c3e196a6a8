// IsaKernels: the narrow table of single-threaded primitives each ISA variant
// implements. Internal to the backend: callers use CpuKernels (kernels.h),
// which validates arguments, splits work across threads and calls these.
//
// Every entry is a plain function pointer filled once per variant; entries
// assume validated arguments (shapes, non-null, no overflow).
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/backend/cpu_features.h"
#include "keel/backend/dtype.h"
#include "keel/core/result.h"

namespace keel::backend::cpu {

// y = x · Wᵀ (+ bias) for output rows [row_begin, row_end).
struct MatmulProblem {
  const float* x = nullptr;        // (n_tokens, k)
  const uint16_t* x_bf16 = nullptr;  // (n_tokens, k) x rounded to bf16, or null
  const void* w = nullptr;         // (n, k) in w_type
  DType w_type = DType::kF32;
  const float* bias = nullptr;     // (n) or null
  float* y = nullptr;              // (n_tokens, n)
  int64_t n_tokens = 0;
  int64_t k = 0;  // in_features
  int64_t n = 0;  // out_features
};

// Online-softmax state of one (query row, head) during paged attention.
struct AttnState {
  float* acc = nullptr;  // (head_dim) running sum of p_j * v_j
  float max = 0;         // running max score; -inf before the first key
  float sum = 0;         // running sum of p_j
};

// An aggregate without default member initializers on purpose: the ISA TUs
// value-initialize it (`IsaKernels t{};`), which needs no constructor
// function, so no inline function with external linkage is emitted there
// with AVX-512 flags (see simd_impl.h).
struct IsaKernels {
  Isa isa;

  // True if matmul_rows wants problem.x_bf16 for bf16 weights with
  // n_tokens >= kGemmMinTokens (it then uses bf16 dot products).
  bool wants_bf16_x;
  void (*matmul_rows)(const MatmulProblem& p, int64_t row_begin, int64_t row_end);
  // dst = src rounded to bf16 (nearest even). Set iff wants_bf16_x.
  void (*to_bf16)(const float* src, int64_t n, uint16_t* dst);

  // y = x / sqrt(mean(x^2) + eps) * weight, one row.
  void (*rmsnorm_row)(const float* x, const float* weight, float eps, int64_t n, float* y);
  // y = silu(gate) * up.
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* y);
  // y = a + b (y may alias a or b).
  void (*add)(const float* a, const float* b, int64_t n, float* y);
  // In place, one row.
  void (*softmax_row)(float* x, int64_t n);
  // dst = src converted to f32.
  void (*to_f32)(const void* src, DType src_type, int64_t n, float* dst);
  // HF rotate_half RoPE on one head in place: x (head_dim), cos/sin (head_dim/2).
  void (*rope_head)(float* x, int64_t half, const float* cos, const float* sin);
  // Folds keys/values [0, n) of one head's block slice into `st`:
  // scores s_j = scale * q·k_j, online softmax. q (head_dim); k, v (n, head_dim).
  void (*attend)(const float* q, const void* k, const void* v, DType kv_type, int64_t n,
                 int64_t head_dim, float scale, AttnState* st);

  // Sampling rows (keel/backend/sampling_kernels.h has the contracts).
  void (*scan_max)(const float* x, int64_t n, float* max, int64_t* argmax, int64_t* first_invalid);
  void (*shift_exp_block_sums)(float* x, int64_t n, float shift, float temperature,
                               float min_weight, int64_t block, double* block_sums);
  void (*exp_weights)(const float* x, int64_t n, float min_weight, float* w);
};

// Matmuls with at least this many tokens use the GEMM (compute-bound) path;
// fewer use GEMV (stream W once, all tokens per pass).
inline constexpr int64_t kGemmMinTokens = 5;

const IsaKernels& scalar_kernels();
const IsaKernels& avx2_kernels();
const IsaKernels& avx512_kernels();
const IsaKernels& avx512_bf16_kernels();

}  // namespace keel::backend::cpu

namespace keel::backend::cpu {

// The table for `isa`, or FailedPrecondition if this CPU lacks it. The only
// place that decides whether an ISA variant's code may run.
Result<const IsaKernels*> isa_kernels(Isa isa);

}  // namespace keel::backend::cpu
