// kAvx512Bf16 variant: kAvx512 plus a bf16 GEMM on vdpbf16ps (AVX512_BF16).
// When the caller rounded x to bf16 (p.x_bf16: bf16 weights, or f16 weights
// under GemmPrecision::kBf16) and n_tokens >= kGemmMinTokens, each vdpbf16ps
// multiplies 32 bf16 pairs into 16 f32 accumulators; f16 weights are rounded
// to bf16 per row block. Everything else is the kAvx512 code.
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

inline __m512bh as_bh(__m512i v) { return reinterpret_cast<__m512bh>(v); }

// One bf16 register tile: y[t, r] (+)= x[t, 0:k] · w[r, 0:k] (+ bias[r]).
struct Bf16TileArgs {
  const uint16_t* x;  // (T, ldx) bf16
  int64_t ldx;
  const uint16_t* w;  // (R, ldw) bf16
  int64_t ldw;
  int64_t k;
  float* y;           // (T, ldy)
  int64_t ldy;
  const float* bias;  // (R) or null
  bool accumulate;
};

template <int R, int T>
inline void bf16_tile(const Bf16TileArgs& a) {
  __m512 acc[T][R];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[t][r] = _mm512_setzero_ps();
  const int64_t kv = a.k - a.k % 32;
  int64_t i = 0;
  for (; i < kv; i += 32) {
    __m512bh wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = as_bh(_mm512_loadu_si512(a.w + r * a.ldw + i));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m512bh xv = as_bh(_mm512_loadu_si512(a.x + t * a.ldx + i));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[t][r] = _mm512_dpbf16_ps(acc[t][r], wv[r], xv);
    }
  }
  if (i < a.k) {  // masked tail: zero lanes add nothing
    const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (a.k - i)) - 1);
    __m512bh wv[R];
    for (int r = 0; r < R; ++r) wv[r] = as_bh(_mm512_maskz_loadu_epi16(m, a.w + r * a.ldw + i));
    for (int t = 0; t < T; ++t) {
      const __m512bh xv = as_bh(_mm512_maskz_loadu_epi16(m, a.x + t * a.ldx + i));
      for (int r = 0; r < R; ++r) acc[t][r] = _mm512_dpbf16_ps(acc[t][r], wv[r], xv);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) {
      const float v = S::reduce_add(acc[t][r]) + (a.bias ? a.bias[r] : 0.0f);
      float& out = a.y[t * a.ldy + r];
      out = a.accumulate ? out + v : v;
    }
  }
}

template <int R, int T>
inline void bf16_tile_any(int64_t nr, int64_t nt, const Bf16TileArgs& a) {
  if (nt == T) {
    if (nr == R) return bf16_tile<R, T>(a);
    for (int64_t r = 0; r < nr; ++r) {
      Bf16TileArgs b = a;
      b.w = a.w + r * a.ldw;
      b.y = a.y + r;
      b.bias = a.bias ? a.bias + r : nullptr;
      bf16_tile<1, T>(b);
    }
    return;
  }
  if constexpr (T > 1) return bf16_tile_any<R, T - 1>(nr, nt, a);
}

constexpr int kR = 4;
constexpr int kT = 6;
// K slice: 4 x 2048 + 6 x 2048 bf16 = 40 KiB per tile in L1.
constexpr int64_t kBf16Kc = 2048;

// dst (kc) = src (kc) f16 rounded to bf16 (round to nearest even).
void f16_row_to_bf16(const uint16_t* src, int64_t kc, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 32 <= kc; i += 32) {
    const __m512 lo = S::load_f16(src + i);
    const __m512 hi = S::load_f16(src + i + 16);
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
  }
  for (; i < kc; ++i) dst[i] = detail::scalar_f32_to_bf16(scalar_f16_to_f32(src[i]));
}

// Same blocking as gemm_rows (simd_impl.h): K slices, a row block of W kept
// in L2 (32 x 2048 bf16 = 128 KiB), token blocks passing by. f16 W (kBf16
// precision) is rounded to bf16 one row block at a time into a scratch, once
// per call, as gemm_rows converts to f32.
template <DType D>
void bf16_gemm_rows(const MatmulProblem& p, int64_t r0, int64_t r1) {
  static_assert(D == DType::kBF16 || D == DType::kF16);
  const int64_t k = p.k;
  const int64_t kc_max = imin(k, kBf16Kc);
  int64_t tok_block = kGemmXBlockBytes / (kc_max * 2);
  tok_block = tok_block < kT ? kT : tok_block - tok_block % kT;
  const auto* w = static_cast<const uint16_t*>(p.w);
  StackScratch<uint16_t, D == DType::kBF16 ? 1 : kGemmRowBlock * kBf16Kc> wb;  // (row block, kc)
  for (int64_t kb = 0; kb < k; kb += kc_max) {
    const int64_t kc = imin(kc_max, k - kb);
    for (int64_t rb = r0; rb < r1; rb += kGemmRowBlock) {
      const int64_t re = imin(r1, rb + kGemmRowBlock);
      const uint16_t* wblock = w + rb * k + kb;  // (re - rb, ldw)
      int64_t ldw = k;
      if constexpr (D == DType::kF16) {
        for (int64_t rr = 0; rr < re - rb; ++rr) f16_row_to_bf16(wblock + rr * k, kc, wb.data + rr * kc);
        wblock = wb.data;
        ldw = kc;
      }
      for (int64_t tb = 0; tb < p.n_tokens; tb += tok_block) {
        const int64_t te = imin(p.n_tokens, tb + tok_block);
        for (int64_t r = rb; r < re; r += kR) {
          const int64_t nr = imin(kR, re - r);
          for (int64_t t = tb; t < te; t += kT) {
            Bf16TileArgs a{p.x_bf16 + t * k + kb, k, wblock + (r - rb) * ldw, ldw, kc,
                           p.y + t * p.n + r, p.n, kb == 0 && p.bias ? p.bias + r : nullptr,
                           kb != 0};
            bf16_tile_any<kR, kT>(nr, imin(kT, te - t), a);
          }
        }
      }
    }
  }
}

void matmul_rows(const MatmulProblem& p, int64_t r0, int64_t r1) {
  if (p.x_bf16 != nullptr && p.n_tokens >= kGemmMinTokens) {
    if (p.w_type == DType::kBF16) return bf16_gemm_rows<DType::kBF16>(p, r0, r1);
    if (p.w_type == DType::kF16) return bf16_gemm_rows<DType::kF16>(p, r0, r1);
  }
  matmul_rows_impl<4, 4, 6>(p, r0, r1);
}

void to_bf16(const float* src, int64_t n, uint16_t* dst) {
  const int64_t nv = n - n % 32;
  int64_t i = 0;
  for (; i < nv; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(v));
  }
  for (; i < n; ++i) dst[i] = detail::scalar_f32_to_bf16(src[i]);
}

IsaKernels make() {
  IsaKernels t{};
  t.isa = Isa::kAvx512Bf16;
  t.wants_bf16_x = true;
  t.matmul_rows = &matmul_rows;
  t.to_bf16 = &to_bf16;
  fill_common(t);
  fill_sampling(t);
  return t;
}

}  // namespace

const IsaKernels& avx512_bf16_kernels() {
  static const IsaKernels t = make();
  return t;
}

}  // namespace keel::backend::cpu
