#include "keel/backend/cpu/kernels.h"

#include <cmath>
#include <vector>

#include "keel/backend/cpu/parallel.h"

namespace keel::backend {
namespace {

// Below this many multiply-adds a matmul stays on the calling thread: a pool
// round trip costs tens of microseconds (see README, "Threading overhead").
constexpr int64_t kMatmulMinParallelMacs = int64_t{1} << 18;
// Output rows per chunk are a multiple of this (all tile heights divide it).
constexpr int64_t kRowAlign = 16;

Status check_not_null(const void* p, const char* name) {
  if (p == nullptr) return InvalidArgumentError("{} is null", name);
  return OkStatus();
}

}  // namespace

std::string_view gemm_precision_name(GemmPrecision p) {
  switch (p) {
    case GemmPrecision::kAuto: return "auto";
    case GemmPrecision::kF32: return "f32";
    case GemmPrecision::kBf16: return "bf16";
  }
  return "?";
}

Result<GemmPrecision> parse_gemm_precision(std::string_view name) {
  for (GemmPrecision p : {GemmPrecision::kAuto, GemmPrecision::kF32, GemmPrecision::kBf16}) {
    if (name == gemm_precision_name(p)) return p;
  }
  return InvalidArgumentError("unknown GEMM precision '{}': use auto, f32 or bf16", name);
}

Result<CpuKernels> CpuKernels::create(Isa isa, ThreadPool* pool) {
  KEEL_ASSIGN_OR_RETURN(const cpu::IsaKernels* table, cpu::isa_kernels(isa));
  return CpuKernels(table, pool);
}

Result<CpuKernels> CpuKernels::create_default() {
  KEEL_ASSIGN_OR_RETURN(Isa isa, default_isa());
  return create(isa, &ThreadPool::global());
}

Status CpuKernels::matmul(const float* x, int64_t n_tokens, const WeightView& w,
                          const float* bias, float* y, std::span<uint16_t> bf16_scratch) const {
  KEEL_RETURN_IF_ERROR(check_not_null(x, "matmul x"));
  KEEL_RETURN_IF_ERROR(check_not_null(w.data, "matmul weight"));
  KEEL_RETURN_IF_ERROR(check_not_null(y, "matmul y"));
  if (n_tokens <= 0 || w.rows <= 0 || w.cols <= 0) {
    return InvalidArgumentError("matmul needs n_tokens, rows, cols > 0 (got {}, {}, {})", n_tokens,
                                w.rows, w.cols);
  }
  cpu::MatmulProblem p;
  p.x = x;
  p.w = w.data;
  p.w_type = w.dtype;
  p.bias = bias;
  p.y = y;
  p.n_tokens = n_tokens;
  p.k = w.cols;
  p.n = w.rows;
  // (n_tokens, k) x rounded to bf16: in the caller's scratch when it is large
  // enough (a model passes its budgeted workspace), else per calling thread,
  // only ever grown.
  thread_local std::vector<uint16_t> own_scratch;
  const bool bf16_products =
      (w.dtype == DType::kBF16 && gemm_precision_ != GemmPrecision::kF32) ||
      (w.dtype == DType::kF16 && gemm_precision_ == GemmPrecision::kBf16);
  if (table_->wants_bf16_x && bf16_products && n_tokens >= cpu::kGemmMinTokens) {
    const auto need = static_cast<size_t>(n_tokens * w.cols);
    uint16_t* x_bf16 = bf16_scratch.data();
    if (bf16_scratch.size() < need) {
      if (own_scratch.size() < need) own_scratch.resize(need);
      x_bf16 = own_scratch.data();
    }
    table_->to_bf16(x, n_tokens * w.cols, x_bf16);
    p.x_bf16 = x_bf16;
  }
  const int64_t macs_per_row = n_tokens * w.cols;
  const int64_t min_rows = std::max<int64_t>(kRowAlign, kMatmulMinParallelMacs / macs_per_row);
  const cpu::IsaKernels* t = table_;
  return cpu::parallel_chunks(
      pool_, w.rows, kRowAlign, min_rows,
      [t, &p](int64_t r0, int64_t r1) { t->matmul_rows(p, r0, r1); }, call_deadline());
}

Status CpuKernels::rmsnorm(const float* x, const float* weight, float eps, int64_t rows,
                           int64_t dim, float* y) const {
  if (!x || !weight || !y) return InvalidArgumentError("rmsnorm: null buffer");
  if (rows <= 0 || dim <= 0) {
    return InvalidArgumentError("rmsnorm needs rows, dim > 0 (got {}, {})", rows, dim);
  }
  if (!(eps >= 0)) return InvalidArgumentError("rmsnorm eps must be >= 0, got {}", eps);
  for (int64_t r = 0; r < rows; ++r) table_->rmsnorm_row(x + r * dim, weight, eps, dim, y + r * dim);
  return OkStatus();
}

Status CpuKernels::rope(float* x, int64_t n_tokens, int n_heads, int head_dim,
                        std::span<const int32_t> positions, const RopeTable& table) const {
  if (!x) return InvalidArgumentError("rope: null x");
  if (n_tokens <= 0 || n_heads <= 0 || head_dim <= 0 || head_dim % 2 != 0) {
    return InvalidArgumentError("rope needs n_tokens, n_heads > 0 and even head_dim (got {}, {}, {})",
                                n_tokens, n_heads, head_dim);
  }
  if (static_cast<int64_t>(positions.size()) != n_tokens) {
    return InvalidArgumentError("rope: {} positions for {} tokens", positions.size(), n_tokens);
  }
  if (table.half() != head_dim / 2) {
    return InvalidArgumentError("rope table has {} frequencies, head_dim {} needs {}", table.half(),
                                head_dim, head_dim / 2);
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int32_t pos = positions[static_cast<size_t>(t)];
    if (pos < 0 || pos >= table.max_positions()) {
      return OutOfRangeError("rope position {} outside the table [0, {}): build a longer table",
                             pos, table.max_positions());
    }
    for (int h = 0; h < n_heads; ++h) {
      table_->rope_head(x + (t * n_heads + h) * head_dim, head_dim / 2, table.cos_row(pos),
                        table.sin_row(pos));
    }
  }
  return OkStatus();
}

Status CpuKernels::swiglu(const float* gate, const float* up, int64_t n, float* y) const {
  if (!gate || !up || !y || n < 0) return InvalidArgumentError("swiglu: null buffer or n < 0");
  table_->swiglu(gate, up, n, y);
  return OkStatus();
}

Status CpuKernels::add(const float* a, const float* b, int64_t n, float* y) const {
  if (!a || !b || !y || n < 0) return InvalidArgumentError("add: null buffer or n < 0");
  table_->add(a, b, n, y);
  return OkStatus();
}

Status CpuKernels::softmax(float* x, int64_t rows, int64_t n) const {
  if (!x || rows <= 0 || n <= 0) return InvalidArgumentError("softmax needs x, rows > 0, n > 0");
  for (int64_t r = 0; r < rows; ++r) table_->softmax_row(x + r * n, n);
  return OkStatus();
}

Status CpuKernels::embedding(const WeightView& table, std::span<const int32_t> ids,
                             float* out) const {
  if (!table.data || !out) return InvalidArgumentError("embedding: null buffer");
  if (table.rows <= 0 || table.cols <= 0) return InvalidArgumentError("embedding: empty table");
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] < 0 || ids[t] >= table.rows) {
      return InvalidArgumentError("token id {} at index {} is outside the vocabulary [0, {})",
                                  ids[t], t, table.rows);
    }
  }
  const size_t row_bytes = static_cast<size_t>(table.cols) * dtype_bytes(table.dtype);
  for (size_t t = 0; t < ids.size(); ++t) {
    const char* row = static_cast<const char*>(table.data) + static_cast<size_t>(ids[t]) * row_bytes;
    table_->to_f32(row, table.dtype, table.cols, out + t * table.cols);
  }
  return OkStatus();
}

}  // namespace keel::backend
