// Plain scalar reference kernels: the definition of each operation, written
// for clarity, not speed. Every optimized variant is tested against these.
// No argument validation (callers pass valid shapes). They are also the
// kScalar variant's implementation where the shapes match.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>

#include "keel/backend/cpu/kernels.h"

namespace keel::backend::ref {

// y (n_tokens, n) = x (n_tokens, k) · W (n, k)ᵀ + bias (n, or null).
void matmul(const float* x, int64_t n_tokens, int64_t k, const void* w, DType w_type, int64_t n,
            const float* bias, float* y);
// x, y (rows, dim); weight (dim).
void rmsnorm(const float* x, const float* weight, float eps, int64_t rows, int64_t dim, float* y);
// x (n_tokens, n_heads, head_dim) in place; cos/sin from inv_freq (head_dim/2) in double.
void rope(float* x, int64_t n_tokens, int n_heads, int head_dim, const int32_t* positions,
          const float* inv_freq);
void swiglu(const float* gate, const float* up, int64_t n, float* y);
void add(const float* a, const float* b, int64_t n, float* y);
void softmax(float* x, int64_t rows, int64_t n);
// out (n_ids, cols) = rows of table (rows, cols).
void embedding(const void* table, DType type, int64_t cols, const int32_t* ids, int64_t n_ids,
               float* out);
// Gathers each position's K/V through the block table and does a plain
// two-pass softmax per (token, head).
void attention(const AttentionArgs& args);

}  // namespace keel::backend::ref
