// Parity of CpuKernels::matmul (every ISA variant, f32/f16/bf16 weights, GEMV
// and GEMM paths, with and without threads) against ref::matmul.
//
// Tolerance: |y - ref| <= tol * (sum_k |x_k * w_k| + |bias|) + 1e-6, with
// tol = 1e-5 for f32 products (only the summation order differs), and
// tol = 2^-8 where avx512bf16 rounds x to bf16 for the GEMM (one bf16
// rounding, relative error <= 2^-9, per product).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <tuple>

#include "backend_test_util.h"
#include "keel/backend/cpu/reference.h"

namespace keel::backend {
namespace {

using testing::make_typed;
using testing::random_floats;

struct Shape {
  int64_t n_tokens, k, n;
};

constexpr Shape kShapes[] = {
    {1, 1, 1},    {1, 17, 5},     {1, 64, 33},   {2, 95, 19},   {3, 129, 7},  {4, 256, 40},
    {4, 31, 3},   {5, 33, 17},    {6, 64, 16},   {7, 1000, 37}, {13, 300, 70}, {64, 96, 130},
    {1, 896, 1000}, {2, 4864, 300}, {37, 896, 200}, {100, 17, 9},
    {9, 2100, 21},  {6, 4864, 20},  // GEMM with several K slices (1024 f32, 2048 bf16)
};

class MatmulTest : public ::testing::TestWithParam<std::tuple<Isa, DType, bool>> {};

TEST_P(MatmulTest, MatchesReference) {
  const auto [isa, dtype, threaded] = GetParam();
  ThreadPool pool(2);
  auto kernels = CpuKernels::create(isa, threaded ? &pool : nullptr);
  ASSERT_TRUE(kernels.ok()) << kernels.status().to_string();
  uint32_t seed = 1;
  for (const Shape& s : kShapes) {
    for (bool with_bias : {false, true}) {
      ++seed;
      const auto x = random_floats(static_cast<size_t>(s.n_tokens * s.k), seed);   // (n_tokens, k)
      const auto w = make_typed(random_floats(static_cast<size_t>(s.n * s.k), seed + 1000), dtype);  // (n, k)
      const auto bias = random_floats(static_cast<size_t>(s.n), seed + 2000);     // (n)
      std::vector<float> y(static_cast<size_t>(s.n_tokens * s.n), NAN);          // (n_tokens, n)
      std::vector<float> want(y.size());
      const float* b = with_bias ? bias.data() : nullptr;
      WeightView wv{w.data(), dtype, s.n, s.k};
      ASSERT_TRUE(kernels->matmul(x.data(), s.n_tokens, wv, b, y.data()).ok());
      ref::matmul(x.data(), s.n_tokens, s.k, w.data(), dtype, s.n, b, want.data());
      const bool bf16_x = isa == Isa::kAvx512Bf16 && dtype == DType::kBF16 &&
                          s.n_tokens >= cpu::kGemmMinTokens;
      const double tol = bf16_x ? std::ldexp(1.0, -8) : 1e-5;
      for (int64_t t = 0; t < s.n_tokens; ++t) {
        for (int64_t r = 0; r < s.n; ++r) {
          double mag = b ? std::fabs(b[r]) : 0.0;
          for (int64_t i = 0; i < s.k; ++i) {
            mag += std::fabs(x[t * s.k + i] * w.as_f32[r * s.k + i]);
          }
          const size_t at = static_cast<size_t>(t * s.n + r);
          ASSERT_NEAR(y[at], want[at], tol * mag + 1e-6)
              << "shape (" << s.n_tokens << ", " << s.k << ", " << s.n << ") t=" << t << " r=" << r
              << " bias=" << with_bias;
        }
      }
    }
  }
}

// GemmPrecision on avx512bf16: kF32 keeps bf16 weights exact; kBf16 rounds f16
// weights and x to bf16 (two roundings per product: tol 2^-7); f32 weights
// stay exact under every setting.
TEST(Matmul, GemmPrecisionSettings) {
  if (!cpu_features().avx512_bf16) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  ThreadPool pool(2);
  for (DType dtype : testing::kAllDTypes) {
    for (GemmPrecision prec : {GemmPrecision::kAuto, GemmPrecision::kF32, GemmPrecision::kBf16}) {
      auto kernels = CpuKernels::create(Isa::kAvx512Bf16, &pool);
      ASSERT_TRUE(kernels.ok());
      kernels->set_gemm_precision(prec);
      const bool bf16_products =
          (dtype == DType::kBF16 && prec != GemmPrecision::kF32) ||
          (dtype == DType::kF16 && prec == GemmPrecision::kBf16);
      const double tol = !bf16_products ? 1e-5
                         : dtype == DType::kF16 ? std::ldexp(1.0, -7)
                                                : std::ldexp(1.0, -8);
      for (const Shape& s : {Shape{6, 64, 16}, Shape{37, 896, 200}, Shape{9, 2100, 21}}) {
        const auto x = random_floats(static_cast<size_t>(s.n_tokens * s.k), 7);   // (n_tokens, k)
        const auto w = make_typed(random_floats(static_cast<size_t>(s.n * s.k), 8), dtype);  // (n, k)
        std::vector<float> y(static_cast<size_t>(s.n_tokens * s.n), NAN);        // (n_tokens, n)
        std::vector<float> want(y.size());
        ASSERT_TRUE(kernels->matmul(x.data(), s.n_tokens, WeightView{w.data(), dtype, s.n, s.k},
                                    nullptr, y.data())
                        .ok());
        ref::matmul(x.data(), s.n_tokens, s.k, w.data(), dtype, s.n, nullptr, want.data());
        double max_err = 0;  // in units of the row's sum |x * w|
        for (int64_t t = 0; t < s.n_tokens; ++t) {
          for (int64_t r = 0; r < s.n; ++r) {
            double mag = 0;
            for (int64_t i = 0; i < s.k; ++i) mag += std::fabs(x[t * s.k + i] * w.as_f32[r * s.k + i]);
            const size_t at = static_cast<size_t>(t * s.n + r);
            max_err = std::max(max_err, std::fabs(y[at] - want[at]) / (mag + 1e-6));
          }
        }
        EXPECT_LE(max_err, tol) << dtype_name(dtype) << " " << gemm_precision_name(prec)
                                << " shape (" << s.n_tokens << ", " << s.k << ", " << s.n << ")";
        // Rounding shows: bf16 products are not bit-exact f32 products.
        if (bf16_products) {
          EXPECT_GT(max_err, 1e-6) << dtype_name(dtype) << " " << gemm_precision_name(prec);
        }
      }
    }
  }
}

TEST(Matmul, ParsesGemmPrecision) {
  EXPECT_EQ(*parse_gemm_precision("bf16"), GemmPrecision::kBf16);
  EXPECT_EQ(*parse_gemm_precision("f32"), GemmPrecision::kF32);
  EXPECT_EQ(*parse_gemm_precision("auto"), GemmPrecision::kAuto);
  const Status bad = parse_gemm_precision("fp8").status();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("auto, f32 or bf16"), std::string::npos) << bad.to_string();
}

INSTANTIATE_TEST_SUITE_P(
    AllIsas, MatmulTest,
    ::testing::Combine(::testing::ValuesIn(supported_isas()), ::testing::ValuesIn(testing::kAllDTypes),
                       ::testing::Bool()),
    [](const auto& p) {
      return testing::isa_param_name(std::get<0>(p.param)) + "_" +
             std::string(dtype_name(std::get<1>(p.param))) +
             (std::get<2>(p.param) ? "_threads" : "_inline");
    });

TEST(Matmul, RejectsBadShapes) {
  auto kernels = CpuKernels::create(Isa::kScalar, nullptr);
  ASSERT_TRUE(kernels.ok());
  float x[4] = {};
  float y[4] = {};
  float w[4] = {};
  EXPECT_EQ(kernels->matmul(x, 0, WeightView{w, DType::kF32, 2, 2}, nullptr, y).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(kernels->matmul(x, 1, WeightView{nullptr, DType::kF32, 2, 2}, nullptr, y).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(kernels->matmul(x, 1, WeightView{w, DType::kF32, 0, 2}, nullptr, y).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keel::backend
