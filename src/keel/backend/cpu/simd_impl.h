// Kernel bodies shared by every ISA variant, written once against a vector
// traits type S and instantiated by each variant's translation unit.
//
// Include this file INSIDE an anonymous namespace of an ISA TU, after
// defining `struct S` (see scalar.cc / avx2.cc / avx512.cc). Everything here
// then has internal linkage and is compiled with that TU's ISA flags, so no
// AVX-512 code can leak into a baseline caller through a shared inline
// definition (the ODR trap). For the same reason these bodies use no std::
// templates: only intrinsics (via S), <cmath> functions and raw loops.
//
// S provides: F (vector of kLanes floats), zero, set1, load, load_f16,
// load_bf16, store, add, mul, fma(a, b, c) = a*b + c, max, reduce_add,
// reduce_max, exp (vector e^x, ~1 ulp on [-87, 88], 0 below).
//
// Needs: <cmath>, <cstdint>, isa_kernels.h, scalar_convert.h.

using keel::backend::DType;
using keel::backend::cpu::AttnState;
using keel::backend::cpu::MatmulProblem;
using keel::backend::detail::scalar_bf16_to_f32;
using keel::backend::detail::scalar_f16_to_f32;

// Local, not dtype_bytes(): keeps every function this TU emits internal.
template <DType D>
constexpr int64_t elem_bytes() {
  return D == DType::kF32 ? 4 : 2;
}

template <DType D>
inline float scalar_load(const void* base, int64_t i) {
  if constexpr (D == DType::kF32) {
    return static_cast<const float*>(base)[i];
  } else if constexpr (D == DType::kF16) {
    return scalar_f16_to_f32(static_cast<const uint16_t*>(base)[i]);
  } else {
    return scalar_bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
  }
}

template <DType D>
inline typename S::F vload(const void* base, int64_t i) {
  if constexpr (D == DType::kF32) {
    return S::load(static_cast<const float*>(base) + i);
  } else if constexpr (D == DType::kF16) {
    return S::load_f16(static_cast<const uint16_t*>(base) + i);
  } else {
    return S::load_bf16(static_cast<const uint16_t*>(base) + i);
  }
}

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// ---- matmul -------------------------------------------------------------

// One register tile: y[t, r] (+)= x[t, 0:k] · w[r, 0:k] (+ bias[r]).
struct TileArgs {
  const float* x;     // (T, ldx)
  int64_t ldx;
  const void* w;      // (R, ldw) in the tile's DType
  int64_t ldw;
  int64_t k;          // dot-product length
  float* y;           // (T, ldy), column 0 = this tile's first row
  int64_t ldy;
  const float* bias;  // (R) or null
  bool accumulate;    // y += result instead of y = result
};

template <DType D>
inline TileArgs tile_row(const TileArgs& a, int64_t r) {
  TileArgs b = a;
  b.w = static_cast<const char*>(a.w) + r * a.ldw * elem_bytes<D>();
  b.y = a.y + r;
  b.bias = a.bias ? a.bias + r : nullptr;
  return b;
}

template <DType D, int R, int T>
inline void mm_tile(const TileArgs& a) {
  typename S::F acc[T][R];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[t][r] = S::zero();
  const int64_t k = a.k;
  const int64_t kv = k - k % S::kLanes;
  int64_t i = 0;
  for (; i < kv; i += S::kLanes) {
    typename S::F wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = vload<D>(a.w, r * a.ldw + i);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const typename S::F xv = S::load(a.x + t * a.ldx + i);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[t][r] = S::fma(wv[r], xv, acc[t][r]);
    }
  }
  float tail[T][R] = {};
  for (; i < k; ++i) {
    for (int r = 0; r < R; ++r) {
      const float wf = scalar_load<D>(a.w, r * a.ldw + i);
      for (int t = 0; t < T; ++t) tail[t][r] += a.x[t * a.ldx + i] * wf;
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) {
      float v = S::reduce_add(acc[t][r]) + tail[t][r] + (a.bias ? a.bias[r] : 0.0f);
      float& out = a.y[t * a.ldy + r];
      out = a.accumulate ? out + v : v;
    }
  }
}

// A tile of nr <= R rows and nt <= T tokens: full R rows use the R-wide
// kernel; leftover rows go one by one.
template <DType D, int R, int T>
inline void mm_tile_any(int64_t nr, int64_t nt, const TileArgs& a) {
  if (nt == T) {
    if (nr == R) return mm_tile<D, R, T>(a);
    for (int64_t r = 0; r < nr; ++r) mm_tile<D, 1, T>(tile_row<D>(a, r));
    return;
  }
  // nt < T: recurse on a smaller compile-time token count.
  if constexpr (T > 1) return mm_tile_any<D, R, T - 1>(nr, nt, a);
}

// GEMV: tokens [t, t + T) against rows [r0, r1), one whole row at a time so W
// is read strictly in memory order (one stream per thread; the hardware
// prefetcher follows it across rows). Tiles that interleave several rows
// read several short streams and reached only about half the bandwidth
// (backend README, "Measured speed"). Two accumulators per token hide the
// FMA latency when T is 1.
template <DType D, int T>
void gemv_rows_seq(const MatmulProblem& p, int64_t t0, int64_t r0, int64_t r1) {
  using F = typename S::F;
  const int64_t k = p.k;
  constexpr int64_t kStep = 2 * S::kLanes;
  const int64_t k2 = k - k % kStep;
  const int64_t k1 = k - k % S::kLanes;
  const float* x = p.x + t0 * k;  // (T, k)
  for (int64_t r = r0; r < r1; ++r) {
    const char* w = static_cast<const char*>(p.w) + r * k * elem_bytes<D>();
    F acc0[T], acc1[T];
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc0[t] = acc1[t] = S::zero();
    int64_t i = 0;
    for (; i < k2; i += kStep) {
      const F w0 = vload<D>(w, i);
      const F w1 = vload<D>(w, i + S::kLanes);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        acc0[t] = S::fma(w0, S::load(x + t * k + i), acc0[t]);
        acc1[t] = S::fma(w1, S::load(x + t * k + i + S::kLanes), acc1[t]);
      }
    }
    if (i < k1) {
      const F w0 = vload<D>(w, i);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) acc0[t] = S::fma(w0, S::load(x + t * k + i), acc0[t]);
      i += S::kLanes;
    }
    float tail[T] = {};
    for (; i < k; ++i) {
      const float wf = scalar_load<D>(w, i);
      for (int t = 0; t < T; ++t) tail[t] += x[t * k + i] * wf;
    }
    const float b = p.bias ? p.bias[r] : 0.0f;
    for (int t = 0; t < T; ++t) {
      p.y[(t0 + t) * p.n + r] = S::reduce_add(S::add(acc0[t], acc1[t])) + tail[t] + b;
    }
  }
}

// GEMV for n_tokens < kGemmMinTokens: W streamed once per T tokens.
template <DType D, int T>
void gemv_rows(const MatmulProblem& p, int64_t r0, int64_t r1) {
  for (int64_t t = 0; t < p.n_tokens; t += T) {
    switch (imin(T, p.n_tokens - t)) {
      case 1: gemv_rows_seq<D, 1>(p, t, r0, r1); break;
      case 2: if constexpr (T >= 2) gemv_rows_seq<D, 2>(p, t, r0, r1); break;
      case 3: if constexpr (T >= 3) gemv_rows_seq<D, 3>(p, t, r0, r1); break;
      default: if constexpr (T >= 4) gemv_rows_seq<D, 4>(p, t, r0, r1); break;
    }
  }
}

// A GEMM call's conversion scratch for one row block, on the calling
// thread's stack (at most 128 KiB): the hot path allocates nothing, and the
// size is fixed by the blocking constants, not by the problem. N = 1 where
// no conversion is needed.
template <typename T, int64_t N>
struct StackScratch {
  alignas(64) T data[N];
};

// GEMM blocking (GotoBLAS-like, for the dot-product tile):
// - K is cut into slices of kGemmKc so one tile's weights (R x kc) and
//   activations (T x kc) stay in L1 (4x1024 + 6x1024 floats = 40 KiB);
// - a block of kGemmRowBlock rows of that slice (converted to f32 once per
//   call, 32 x 1024 floats = 128 KiB) stays in L2 while
// - every token block (kGemmXBlockBytes of activations, also L2) passes by.
// So W is read from memory once per call, converted once, and x is re-read
// from L2/L3 once per row block.
constexpr int64_t kGemmKc = 1024;
constexpr int64_t kGemmRowBlock = 32;
constexpr int64_t kGemmXBlockBytes = 256 * 1024;

template <DType D, int R, int T>
void gemm_rows(const MatmulProblem& p, int64_t r0, int64_t r1) {
  static_assert(kGemmRowBlock % R == 0);
  const int64_t k = p.k;
  const int64_t kc_max = imin(k, kGemmKc);
  int64_t tok_block = kGemmXBlockBytes / (kc_max * 4);
  tok_block = tok_block < T ? T : tok_block - tok_block % T;
  StackScratch<float, D == DType::kF32 ? 1 : kGemmRowBlock * kGemmKc> wf;  // (row block, kc)
  const int64_t elem = elem_bytes<D>();
  const char* w = static_cast<const char*>(p.w);
  for (int64_t kb = 0; kb < k; kb += kc_max) {
    const int64_t kc = imin(kc_max, k - kb);
    for (int64_t rb = r0; rb < r1; rb += kGemmRowBlock) {
      const int64_t re = imin(r1, rb + kGemmRowBlock);
      const char* src = w + (rb * k + kb) * elem;  // rows [rb, re), columns from kb
      const float* wblock;                         // (re - rb, ldw)
      int64_t ldw;
      if constexpr (D == DType::kF32) {
        wblock = reinterpret_cast<const float*>(src);
        ldw = k;
      } else {
        const int64_t kv = kc - kc % S::kLanes;
        for (int64_t rr = 0; rr < re - rb; ++rr) {
          const char* row = src + rr * k * elem;
          float* dst = wf.data + rr * kc;
          int64_t i = 0;
          for (; i < kv; i += S::kLanes) S::store(dst + i, vload<D>(row, i));
          for (; i < kc; ++i) dst[i] = scalar_load<D>(row, i);
        }
        wblock = wf.data;
        ldw = kc;
      }
      for (int64_t tb = 0; tb < p.n_tokens; tb += tok_block) {
        const int64_t te = imin(p.n_tokens, tb + tok_block);
        for (int64_t r = rb; r < re; r += R) {
          const int64_t nr = imin(R, re - r);
          for (int64_t t = tb; t < te; t += T) {
            TileArgs a{p.x + t * k + kb, k, wblock + (r - rb) * ldw, ldw, kc, p.y + t * p.n + r,
                       p.n, kb == 0 && p.bias ? p.bias + r : nullptr, kb != 0};
            mm_tile_any<DType::kF32, R, T>(nr, imin(T, te - t), a);
          }
        }
      }
    }
  }
}

// ---- elementwise ---------------------------------------------------------

inline void rmsnorm_row_impl(const float* x, const float* weight, float eps, int64_t n, float* y) {
  typename S::F ss = S::zero();
  const int64_t nv = n - n % S::kLanes;
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) {
    const typename S::F v = S::load(x + i);
    ss = S::fma(v, v, ss);
  }
  float sum = S::reduce_add(ss);
  for (; i < n; ++i) sum += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(sum / static_cast<float>(n) + eps);
  const typename S::F vinv = S::set1(inv);
  for (i = 0; i < nv; i += S::kLanes) {
    S::store(y + i, S::mul(S::mul(S::load(x + i), vinv), S::load(weight + i)));
  }
  for (; i < n; ++i) y[i] = x[i] * inv * weight[i];
}

inline void swiglu_impl(const float* gate, const float* up, int64_t n, float* y) {
  const int64_t nv = n - n % S::kLanes;
  const typename S::F one = S::set1(1.0f);
  const typename S::F minus_one = S::set1(-1.0f);
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) {
    const typename S::F g = S::load(gate + i);
    const typename S::F e = S::exp(S::mul(g, minus_one));
    S::store(y + i, S::mul(S::div(g, S::add(one, e)), S::load(up + i)));
  }
  for (; i < n; ++i) y[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

inline void add_impl(const float* a, const float* b, int64_t n, float* y) {
  const int64_t nv = n - n % S::kLanes;
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) S::store(y + i, S::add(S::load(a + i), S::load(b + i)));
  for (; i < n; ++i) y[i] = a[i] + b[i];
}

inline void softmax_row_impl(float* x, int64_t n) {
  const int64_t nv = n - n % S::kLanes;
  typename S::F vmax = S::set1(-INFINITY);
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) vmax = S::max(vmax, S::load(x + i));
  float mx = S::reduce_max(vmax);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const typename S::F vm = S::set1(mx);
  typename S::F vsum = S::zero();
  for (i = 0; i < nv; i += S::kLanes) {
    const typename S::F e = S::exp(S::sub(S::load(x + i), vm));
    S::store(x + i, e);
    vsum = S::add(vsum, e);
  }
  float sum = S::reduce_add(vsum);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  const typename S::F vinv = S::set1(inv);
  for (i = 0; i < nv; i += S::kLanes) S::store(x + i, S::mul(S::load(x + i), vinv));
  for (; i < n; ++i) x[i] *= inv;
}

template <DType D>
inline void to_f32_typed(const void* src, int64_t n, float* dst) {
  const int64_t nv = n - n % S::kLanes;
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) S::store(dst + i, vload<D>(src, i));
  for (; i < n; ++i) dst[i] = scalar_load<D>(src, i);
}

inline void to_f32_impl(const void* src, DType t, int64_t n, float* dst) {
  switch (t) {
    case DType::kF32: return to_f32_typed<DType::kF32>(src, n, dst);
    case DType::kF16: return to_f32_typed<DType::kF16>(src, n, dst);
    case DType::kBF16: return to_f32_typed<DType::kBF16>(src, n, dst);
  }
}

inline void rope_head_impl(float* x, int64_t half, const float* cos, const float* sin) {
  float* x2 = x + half;
  const int64_t nv = half - half % S::kLanes;
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) {
    const typename S::F a = S::load(x + i);
    const typename S::F b = S::load(x2 + i);
    const typename S::F c = S::load(cos + i);
    const typename S::F s = S::load(sin + i);
    S::store(x + i, S::sub(S::mul(a, c), S::mul(b, s)));
    S::store(x2 + i, S::fma(a, s, S::mul(b, c)));
  }
  for (; i < half; ++i) {
    const float a = x[i];
    const float b = x2[i];
    x[i] = a * cos[i] - b * sin[i];
    x2[i] = b * cos[i] + a * sin[i];
  }
}

// ---- attention -------------------------------------------------------------

template <DType D>
inline float dot_typed(const float* q, const void* k, int64_t d) {
  const int64_t nv = d - d % S::kLanes;
  typename S::F acc = S::zero();
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) acc = S::fma(S::load(q + i), vload<D>(k, i), acc);
  float s = S::reduce_add(acc);
  for (; i < d; ++i) s += q[i] * scalar_load<D>(k, i);
  return s;
}

// acc = acc * c + p * v
template <DType D>
inline void scale_axpy_typed(float* acc, float c, float p, const void* v, int64_t d) {
  const int64_t nv = d - d % S::kLanes;
  const typename S::F vc = S::set1(c);
  const typename S::F vp = S::set1(p);
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) {
    S::store(acc + i, S::fma(vp, vload<D>(v, i), S::mul(S::load(acc + i), vc)));
  }
  for (; i < d; ++i) acc[i] = acc[i] * c + p * scalar_load<D>(v, i);
}

constexpr int64_t kAttendChunk = 64;  // keys scored per online-softmax update

template <DType D>
void attend_typed(const float* q, const void* k, const void* v, int64_t n, int64_t d, float scale,
                  AttnState* st) {
  const size_t row_bytes = static_cast<size_t>(d * elem_bytes<D>());
  const char* kb = static_cast<const char*>(k);
  const char* vb = static_cast<const char*>(v);
  float scores[kAttendChunk];
  for (int64_t j0 = 0; j0 < n; j0 += kAttendChunk) {
    const int64_t m = imin(kAttendChunk, n - j0);
    float mx = st->max;
    for (int64_t j = 0; j < m; ++j) {
      scores[j] = scale * dot_typed<D>(q, kb + (j0 + j) * row_bytes, d);
      mx = scores[j] > mx ? scores[j] : mx;
    }
    // Rescale what was accumulated under the old max (exp(-inf) = 0 at start).
    const float c = std::exp(st->max - mx);
    st->sum *= c;
    for (int64_t j = 0; j < m; ++j) {
      const float pj = std::exp(scores[j] - mx);
      st->sum += pj;
      scale_axpy_typed<D>(st->acc, j == 0 ? c : 1.0f, pj, vb + (j0 + j) * row_bytes, d);
    }
    st->max = mx;
  }
}

inline void attend_impl(const float* q, const void* k, const void* v, DType t, int64_t n,
                        int64_t d, float scale, AttnState* st) {
  switch (t) {
    case DType::kF32: return attend_typed<DType::kF32>(q, k, v, n, d, scale, st);
    case DType::kF16: return attend_typed<DType::kF16>(q, k, v, n, d, scale, st);
    case DType::kBF16: return attend_typed<DType::kBF16>(q, k, v, n, d, scale, st);
  }
}

// Fills the ISA-independent entries of `t` (everything but matmul).
inline void fill_common(keel::backend::cpu::IsaKernels& t) {
  t.rmsnorm_row = &rmsnorm_row_impl;
  t.swiglu = &swiglu_impl;
  t.add = &add_impl;
  t.softmax_row = &softmax_row_impl;
  t.to_f32 = &to_f32_impl;
  t.rope_head = &rope_head_impl;
  t.attend = &attend_impl;
}

// matmul_rows for a variant with GEMV token group TV (<= 4) and GEMM tile
// (RG rows, TG tokens).
template <int TV, int RG, int TG>
void matmul_rows_impl(const MatmulProblem& p, int64_t r0, int64_t r1) {
  const bool gemv = p.n_tokens < keel::backend::cpu::kGemmMinTokens;
  switch (p.w_type) {
    case DType::kF32:
      return gemv ? gemv_rows<DType::kF32, TV>(p, r0, r1)
                  : gemm_rows<DType::kF32, RG, TG>(p, r0, r1);
    case DType::kF16:
      return gemv ? gemv_rows<DType::kF16, TV>(p, r0, r1)
                  : gemm_rows<DType::kF16, RG, TG>(p, r0, r1);
    case DType::kBF16:
      return gemv ? gemv_rows<DType::kBF16, TV>(p, r0, r1)
                  : gemm_rows<DType::kBF16, RG, TG>(p, r0, r1);
  }
}
