// The sampling kernels' shared bodies (contracts: keel/backend/sampling_kernels.h),
// written against the vector traits `S` like simd_impl.h. Include INSIDE the
// anonymous namespace of an ISA TU, after simd_impl.h; fill_sampling() puts
// them in that TU's IsaKernels.
//
// A weight is exp(p) for a processed logit p, 0 where p < kExpFloor (S::exp
// clamps its input, so without the floor -inf would get e^-88) or where it
// is below min_weight. Vector lanes use S::exp; the tail of a block (block
// length not a multiple of kLanes) uses std::exp. shift_exp_block_sums and
// exp_weights split a block the same way, so they give the same weights.

inline constexpr float kExpFloor = -87.0f;  // e^-87 ~ 1.6e-38: the smallest normal floats

inline float weight_scalar(float p, float min_weight) {
  const float w = p >= kExpFloor ? std::exp(p) : 0.0f;
  return w >= min_weight ? w : 0.0f;
}

inline typename S::F weight_vector(typename S::F p, typename S::F floor, typename S::F min_weight) {
  const typename S::F w = S::keep_ge(S::exp(p), p, floor);
  return S::keep_ge(w, w, min_weight);
}

inline void scan_max_impl(const float* x, int64_t n, float* max, int64_t* argmax,
                          int64_t* first_invalid) {
  *max = -INFINITY;
  *argmax = -1;
  *first_invalid = -1;
  const int64_t nv = n - n % S::kLanes;
  const typename S::F inf = S::set1(INFINITY);
  typename S::F vmax = S::set1(-INFINITY);
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) {
    const typename S::F v = S::load(x + i);
    if (S::mask_nlt(v, inf) != 0) break;  // a NaN or +inf in this vector
    vmax = S::max(vmax, v);
  }
  float mx = S::reduce_max(vmax);
  for (; i < n; ++i) {
    if (!(x[i] < INFINITY)) {
      *first_invalid = i;
      return;
    }
    mx = x[i] > mx ? x[i] : mx;
  }
  *max = mx;
  if (mx == -INFINITY) return;  // nothing samplable
  const typename S::F vm = S::set1(mx);
  for (i = 0; i < nv; i += S::kLanes) {
    const uint32_t m = S::mask_ge(S::load(x + i), vm);
    if (m != 0) {
      *argmax = i + __builtin_ctz(m);
      return;
    }
  }
  for (; i < n; ++i) {
    if (x[i] >= mx) {
      *argmax = i;
      return;
    }
  }
}

inline void shift_exp_block_sums_impl(float* x, int64_t n, float shift, float temperature,
                                      float min_weight, int64_t block, double* block_sums) {
  const typename S::F vshift = S::set1(shift);
  const typename S::F vtemp = S::set1(temperature);
  const typename S::F vfloor = S::set1(kExpFloor);
  const typename S::F vmin = S::set1(min_weight);
  for (int64_t b0 = 0, b = 0; b0 < n; b0 += block, ++b) {
    const int64_t len = n - b0 < block ? n - b0 : block;
    const int64_t nv = b0 + len - len % S::kLanes;
    double sum = 0.0;
    int64_t i = b0;
    for (; i < nv; i += S::kLanes) {
      const typename S::F p = S::div(S::sub(S::load(x + i), vshift), vtemp);
      S::store(x + i, p);
      sum += static_cast<double>(S::reduce_add(weight_vector(p, vfloor, vmin)));
    }
    for (; i < b0 + len; ++i) {
      x[i] = (x[i] - shift) / temperature;
      sum += static_cast<double>(weight_scalar(x[i], min_weight));
    }
    block_sums[b] = sum;
  }
}

inline void exp_weights_impl(const float* x, int64_t n, float min_weight, float* w) {
  const typename S::F vfloor = S::set1(kExpFloor);
  const typename S::F vmin = S::set1(min_weight);
  const int64_t nv = n - n % S::kLanes;
  int64_t i = 0;
  for (; i < nv; i += S::kLanes) S::store(w + i, weight_vector(S::load(x + i), vfloor, vmin));
  for (; i < n; ++i) w[i] = weight_scalar(x[i], min_weight);
}

inline void fill_sampling(keel::backend::cpu::IsaKernels& t) {
  t.scan_max = &scan_max_impl;
  t.shift_exp_block_sums = &shift_exp_block_sums_impl;
  t.exp_weights = &exp_weights_impl;
}
