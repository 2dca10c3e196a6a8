// CpuKernels: the CPU operations of a Llama-family forward pass, with
// argument validation, runtime ISA dispatch and multithreading.
//
// Concepts
// - One CpuKernels = one ISA variant (cpu_features.h) + a ThreadPool. The
//   variant's function table is chosen once, at create(); no per-call
//   feature checks.
// - Every call validates shapes and returns InvalidArgument for bad input
//   (bad token ids, block tables that do not cover the positions, ...). It
//   never aborts on input.
// - matmul and attention split their work into at most
//   `pool.num_threads()` large chunks on the pool (threading_min_* below
//   keeps tiny calls on the calling thread). The other kernels are cheap
//   and run on the caller.
// - Weights are (out_features, in_features) row-major in f32, f16 or bf16;
//   activations are f32; accumulation is f32.
// Thread-safety: a CpuKernels is immutable; concurrent calls are safe as long
// as their output buffers do not overlap.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "keel/backend/cpu/isa_kernels.h"
#include "keel/backend/cpu_features.h"
#include "keel/backend/dtype.h"
#include "keel/backend/kv_layout.h"
#include "keel/backend/rope.h"
#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/core/thread_pool.h"

namespace keel::backend {

// A weight matrix: (rows, cols) = (out_features, in_features), row-major.
struct WeightView {
  const void* data = nullptr;  // (rows, cols) in dtype
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Products in the prefill GEMM (n_tokens >= 5) on a CPU with AVX512-BF16.
//   kAuto: bf16 weights round x to bf16 and use vdpbf16ps; f16/f32 weights
//          multiply in f32 (exact products of the stored weights).
//   kF32:  every dtype multiplies in f32 (x never rounded).
//   kBf16: bf16 and f16 weights use vdpbf16ps; f16 weights are rounded to
//          bf16 per block as they are read (3 mantissa bits lost per weight,
//          relative error <= 2^-9, like x's rounding), ~2x the f32 rate.
//          f32 weights stay f32.
// Without AVX512-BF16 every setting multiplies in f32. GEMV (decode) always
// multiplies the stored weights in f32.
enum class GemmPrecision { kAuto, kF32, kBf16 };

std::string_view gemm_precision_name(GemmPrecision p);
// "auto", "f32" or "bf16"; InvalidArgument naming the choices otherwise.
Result<GemmPrecision> parse_gemm_precision(std::string_view name);

struct AttentionArgs {
  const float* q = nullptr;  // (n_q_tokens, n_heads, head_dim), RoPE already applied
  int64_t n_q_tokens = 0;
  int n_heads = 0;             // multiple of kv.layout.num_kv_heads (GQA)
  int64_t start_pos = 0;       // position of q row 0; row i sees positions [0, start_pos + i]
  std::span<const int32_t> block_table;  // logical block -> pool block id
  KvCacheView kv;
  float scale = 0;  // usually 1 / sqrt(head_dim)
  float* out = nullptr;  // (n_q_tokens, n_heads, head_dim)
};

class CpuKernels {
 public:
  // The kernels for `isa` (an error if this CPU lacks it) on `pool` (not
  // owned; must outlive this object; null = run everything on the caller).
  static Result<CpuKernels> create(Isa isa, ThreadPool* pool);
  // default_isa() on the global pool.
  static Result<CpuKernels> create_default();

  Isa isa() const { return table_->isa; }
  int num_threads() const { return pool_ ? pool_->num_threads() : 1; }
  // Bound on the wait of one multithreaded call (default 60 s). A kernel that
  // overruns it returns DeadlineExceeded; its output is then unspecified.
  void set_call_timeout(std::chrono::milliseconds t) { call_timeout_ = t; }
  // See GemmPrecision. Default kAuto.
  void set_gemm_precision(GemmPrecision p) { gemm_precision_ = p; }
  GemmPrecision gemm_precision() const { return gemm_precision_; }

  // y = x · Wᵀ + bias.
  //   x    (n_tokens, w.cols)
  //   bias (w.rows) or null
  //   y    (n_tokens, w.rows), must not overlap x
  // n_tokens < 5 streams W once (GEMV); otherwise blocked GEMM. On
  // avx512bf16 with n_tokens >= 5 and bf16 W (or f16 W under kBf16), x is
  // rounded to bf16 and the products use vdpbf16ps (f32 accumulation); the
  // rounded copy goes to
  // `bf16_scratch` when it holds n_tokens * w.cols elements (else to a
  // per-thread buffer that only grows).
  Status matmul(const float* x, int64_t n_tokens, const WeightView& w, const float* bias,
                float* y, std::span<uint16_t> bf16_scratch = {}) const;

  // y = x / sqrt(mean(x^2) + eps) * weight per row. x, y (rows, dim); weight (dim).
  // Per-head q/k norm (Qwen3): rows = n_tokens * n_heads, dim = head_dim.
  Status rmsnorm(const float* x, const float* weight, float eps, int64_t rows, int64_t dim,
                 float* y) const;

  // In-place RoPE. x (n_tokens, n_heads, head_dim); positions (n_tokens);
  // table.half() == head_dim / 2; every position < table.max_positions().
  Status rope(float* x, int64_t n_tokens, int n_heads, int head_dim,
              std::span<const int32_t> positions, const RopeTable& table) const;

  // y = silu(gate) * up. gate, up, y (n).
  Status swiglu(const float* gate, const float* up, int64_t n, float* y) const;
  // y = a + b. (n); y may alias a or b.
  Status add(const float* a, const float* b, int64_t n, float* y) const;
  // Softmax of each row in place. x (rows, n).
  Status softmax(float* x, int64_t rows, int64_t n) const;
  // out[t] = table[ids[t]] as f32. table (table.rows, table.cols); out (ids.size(), table.cols).
  Status embedding(const WeightView& table, std::span<const int32_t> ids, float* out) const;

  // Causal attention of one sequence's new tokens over its paged KV cache
  // (which must already hold the new tokens' K/V). See AttentionArgs.
  Status attention(const AttentionArgs& args) const;

  // Stores K/V of new tokens at positions [start_pos, start_pos + n_tokens).
  //   k, v (n_tokens, num_kv_heads, head_dim) f32, converted to the cache dtype.
  Status write_kv(const float* k, const float* v, int64_t n_tokens, int64_t start_pos,
                  std::span<const int32_t> block_table, const KvCacheMutView& cache) const;

 private:
  CpuKernels(const cpu::IsaKernels* table, ThreadPool* pool) : table_(table), pool_(pool) {}
  Deadline call_deadline() const { return Deadline::after(call_timeout_); }

  const cpu::IsaKernels* table_;
  ThreadPool* pool_;
  std::chrono::milliseconds call_timeout_{60'000};
  GemmPrecision gemm_precision_ = GemmPrecision::kAuto;
};

}  // namespace keel::backend
