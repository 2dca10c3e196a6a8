// CpuKernels::attention and write_kv: paged-KV attention for one sequence.
#include <algorithm>
#include <cmath>
#include <limits>

#include "keel/backend/cpu/kernels.h"
#include "keel/backend/cpu/parallel.h"

namespace keel::backend {
namespace {

Status check_layout(const KvLayout& L, int64_t num_pool_blocks) {
  if (L.num_kv_heads <= 0 || L.block_size <= 0 || L.head_dim <= 0 || num_pool_blocks <= 0) {
    return InvalidArgumentError(
        "KV layout needs num_kv_heads, block_size, head_dim, num_pool_blocks > 0 (got {}, {}, {}, {})",
        L.num_kv_heads, L.block_size, L.head_dim, num_pool_blocks);
  }
  if (L.block_stride != 0 && L.block_stride < L.block_elems()) {
    return InvalidArgumentError("KV block_stride {} is smaller than one block ({} elements)",
                                L.block_stride, L.block_elems());
  }
  return OkStatus();
}

// Every block the positions [0, end) use must be listed and inside the pool.
Status check_block_table(std::span<const int32_t> table, int64_t end, const KvLayout& L,
                         int64_t num_pool_blocks) {
  const int64_t needed = (end + L.block_size - 1) / L.block_size;
  if (static_cast<int64_t>(table.size()) < needed) {
    return InvalidArgumentError("block table has {} blocks; positions [0, {}) need {}", table.size(),
                                end, needed);
  }
  for (int64_t j = 0; j < needed; ++j) {
    const int32_t b = table[static_cast<size_t>(j)];
    if (b < 0 || b >= num_pool_blocks) {
      return InvalidArgumentError("block table entry {} = {} is outside the pool [0, {})", j, b,
                                  num_pool_blocks);
    }
  }
  return OkStatus();
}

}  // namespace

Status CpuKernels::attention(const AttentionArgs& a) const {
  const KvLayout& L = a.kv.layout;
  if (!a.q || !a.out || !a.kv.k_pool || !a.kv.v_pool) {
    return InvalidArgumentError("attention: null buffer");
  }
  KEEL_RETURN_IF_ERROR(check_layout(L, a.kv.num_pool_blocks));
  if (a.n_q_tokens <= 0 || a.n_heads <= 0 || a.start_pos < 0) {
    return InvalidArgumentError("attention needs n_q_tokens, n_heads > 0 and start_pos >= 0");
  }
  if (a.n_heads % L.num_kv_heads != 0) {
    return InvalidArgumentError("attention: n_heads {} is not a multiple of num_kv_heads {}",
                                a.n_heads, L.num_kv_heads);
  }
  if (!std::isfinite(a.scale)) return InvalidArgumentError("attention scale is not finite");
  KEEL_RETURN_IF_ERROR(
      check_block_table(a.block_table, a.start_pos + a.n_q_tokens, L, a.kv.num_pool_blocks));

  const int group = a.n_heads / L.num_kv_heads;
  const int64_t d = L.head_dim;
  const size_t elem = dtype_bytes(L.dtype);
  const cpu::IsaKernels* t = table_;
  // One item = (query row, head); items are split in contiguous chunks.
  auto run = [&a, &L, t, group, d, elem](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t tok = item / a.n_heads;
      const int h = static_cast<int>(item % a.n_heads);
      const int kvh = h / group;
      const int64_t n_ctx = a.start_pos + tok + 1;
      const float* q = a.q + item * d;
      float* out = a.out + item * d;
      std::fill(out, out + d, 0.0f);
      cpu::AttnState st{out, -std::numeric_limits<float>::infinity(), 0.0f};
      for (int64_t j = 0; j * L.block_size < n_ctx; ++j) {
        const int64_t n = std::min<int64_t>(L.block_size, n_ctx - j * L.block_size);
        const size_t off = L.offset(a.block_table[static_cast<size_t>(j)], kvh, 0) * elem;
        t->attend(q, static_cast<const char*>(a.kv.k_pool) + off,
                  static_cast<const char*>(a.kv.v_pool) + off, L.dtype, n, d, a.scale, &st);
      }
      const float inv = 1.0f / st.sum;
      for (int64_t i = 0; i < d; ++i) out[i] *= inv;
    }
  };
  const int64_t items = a.n_q_tokens * a.n_heads;
  // Chunks of at least 4 items: a decode step's heads still split 2 ways.
  return cpu::parallel_chunks(pool_, items, 1, 4, run, call_deadline());
}

Status CpuKernels::write_kv(const float* k, const float* v, int64_t n_tokens, int64_t start_pos,
                            std::span<const int32_t> block_table,
                            const KvCacheMutView& cache) const {
  const KvLayout& L = cache.layout;
  if (!k || !v || !cache.k_pool || !cache.v_pool) return InvalidArgumentError("write_kv: null buffer");
  KEEL_RETURN_IF_ERROR(check_layout(L, cache.num_pool_blocks));
  if (n_tokens <= 0 || start_pos < 0) {
    return InvalidArgumentError("write_kv needs n_tokens > 0 and start_pos >= 0");
  }
  KEEL_RETURN_IF_ERROR(check_block_table(block_table, start_pos + n_tokens, L, cache.num_pool_blocks));
  const size_t elem = dtype_bytes(L.dtype);
  const int64_t d = L.head_dim;
  for (int64_t tok = 0; tok < n_tokens; ++tok) {
    const int64_t pos = start_pos + tok;
    const int32_t blk = block_table[static_cast<size_t>(pos / L.block_size)];
    const int slot = static_cast<int>(pos % L.block_size);
    for (int h = 0; h < L.num_kv_heads; ++h) {
      const size_t off = L.offset(blk, h, slot) * elem;
      const int64_t src = (tok * L.num_kv_heads + h) * d;
      convert_from_f32(k + src, static_cast<size_t>(d), L.dtype,
                       static_cast<char*>(cache.k_pool) + off);
      convert_from_f32(v + src, static_cast<size_t>(d), L.dtype,
                       static_cast<char*>(cache.v_pool) + off);
    }
  }
  return OkStatus();
}

}  // namespace keel::backend
