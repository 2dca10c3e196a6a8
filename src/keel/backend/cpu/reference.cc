#include "keel/backend/cpu/reference.h"

#include <cmath>
#include <limits>
#include <vector>

namespace keel::backend::ref {
namespace {

float load(const void* base, DType t, size_t i) {
  switch (t) {
    case DType::kF32: return static_cast<const float*>(base)[i];
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
  }
  return 0;
}

}  // namespace

void matmul(const float* x, int64_t n_tokens, int64_t k, const void* w, DType w_type, int64_t n,
            const float* bias, float* y) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < n; ++r) {
      float acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += x[t * k + i] * load(w, w_type, r * k + i);
      y[t * n + r] = acc + (bias ? bias[r] : 0.0f);
    }
  }
}

void rmsnorm(const float* x, const float* weight, float eps, int64_t rows, int64_t dim, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = xr[i] * inv * weight[i];
  }
}

void rope(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions,
          const float* inv_freq) {
  const int half = head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int h = 0; h < n_heads; ++h) {
      float* xh = x + (t * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const double angle = static_cast<double>(positions[t]) * static_cast<double>(inv_freq[i]);
        const float c = static_cast<float>(std::cos(angle));
        const float s = static_cast<float>(std::sin(angle));
        const float x1 = xh[i];
        const float x2 = xh[i + half];
        xh[i] = x1 * c - x2 * s;
        xh[i + half] = x2 * c + x1 * s;
      }
    }
  }
}

void swiglu(const float* gate, const float* up, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add(const float* a, const float* b, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void softmax(float* x, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) mx = std::fmax(mx, xr[i]);
    float sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      xr[i] = std::exp(xr[i] - mx);
      sum += xr[i];
    }
    for (int64_t i = 0; i < n; ++i) xr[i] /= sum;
  }
}

void embedding(const void* table, DType type, int64_t cols, const int32_t* ids, int64_t n_ids,
               float* out) {
  for (int64_t t = 0; t < n_ids; ++t) {
    for (int64_t i = 0; i < cols; ++i) {
      out[t * cols + i] = load(table, type, static_cast<size_t>(ids[t]) * cols + i);
    }
  }
}

void attention(const AttentionArgs& a) {
  const KvLayout& L = a.kv.layout;
  const int group = a.n_heads / L.num_kv_heads;
  const int64_t d = L.head_dim;
  std::vector<float> scores;
  for (int64_t t = 0; t < a.n_q_tokens; ++t) {
    const int64_t n_ctx = a.start_pos + t + 1;
    scores.assign(static_cast<size_t>(n_ctx), 0.0f);
    for (int h = 0; h < a.n_heads; ++h) {
      const int kvh = h / group;
      const float* q = a.q + (t * a.n_heads + h) * d;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t p = 0; p < n_ctx; ++p) {
        const int32_t blk = a.block_table[static_cast<size_t>(p / L.block_size)];
        const size_t off = L.offset(blk, kvh, static_cast<int>(p % L.block_size));
        float s = 0;
        for (int64_t i = 0; i < d; ++i) s += q[i] * load(a.kv.k_pool, L.dtype, off + i);
        scores[p] = s * a.scale;
        mx = std::fmax(mx, scores[p]);
      }
      float sum = 0;
      for (int64_t p = 0; p < n_ctx; ++p) {
        scores[p] = std::exp(scores[p] - mx);
        sum += scores[p];
      }
      float* o = a.out + (t * a.n_heads + h) * d;
      for (int64_t i = 0; i < d; ++i) o[i] = 0;
      for (int64_t p = 0; p < n_ctx; ++p) {
        const int32_t blk = a.block_table[static_cast<size_t>(p / L.block_size)];
        const size_t off = L.offset(blk, kvh, static_cast<int>(p % L.block_size));
        const float w = scores[p] / sum;
        for (int64_t i = 0; i < d; ++i) o[i] += w * load(a.kv.v_pool, L.dtype, off + i);
      }
    }
  }
}

}  // namespace keel::backend::ref
