// SamplingKernels on every ISA this CPU has, against plain loops with
// std::exp in double: argmax semantics (ties, -inf, NaN/+inf), processed
// logits bit-exact, weights within 4 ulp-ish, block sums, and the zero
// weight of -inf and of weights below min_weight.
#include "keel/backend/sampling_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backend_test_util.h"

namespace keel::backend {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

class SamplingKernelsTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    auto k = SamplingKernels::for_isa(GetParam());
    ASSERT_TRUE(k.ok()) << k.status().to_string();
    k_.emplace(*k);
    EXPECT_EQ(k_->isa(), GetParam());
  }
  std::optional<SamplingKernels> k_;
};

std::vector<float> logits_of(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(n);
  for (float& v : x) v = normal(gen);
  return x;
}

TEST_P(SamplingKernelsTest, ScanMaxFindsTheFirstMaxAndTheFirstInvalid) {
  for (const size_t n : {1, 5, 16, 17, 33, 1000, 152064}) {
    std::vector<float> x = logits_of(n, static_cast<uint32_t>(n));
    size_t want = 0;
    for (size_t i = 1; i < n; ++i) want = x[i] > x[want] ? i : want;
    if (n > 40) {
      x[n - 3] = x[want];  // a later tie: the first wins
      x[7] = -kInf;
    }
    MaxScan m = k_->scan_max(x);
    EXPECT_EQ(m.argmax, static_cast<int64_t>(want)) << "n=" << n;
    EXPECT_EQ(m.max, x[want]);
    EXPECT_EQ(m.first_invalid, -1);
    if (n > 40) {
      x[n - 5] = std::numeric_limits<float>::quiet_NaN();
      x[n - 2] = kInf;
      EXPECT_EQ(k_->scan_max(x).first_invalid, static_cast<int64_t>(n - 5));
      x[3] = kInf;
      EXPECT_EQ(k_->scan_max(x).first_invalid, 3);
    }
  }
  const std::vector<float> all_masked(37, -kInf);
  const MaxScan none = k_->scan_max(all_masked);
  EXPECT_EQ(none.argmax, -1);
  EXPECT_EQ(none.first_invalid, -1);
  EXPECT_EQ(k_->scan_max(std::span<const float>()).argmax, -1);
}

TEST_P(SamplingKernelsTest, BlockSumsAndWeightsMatchStdExp) {
  constexpr int64_t kBlock = 512;
  for (const size_t n : {1, 15, 512, 513, 1300, 152064}) {
    for (const float min_weight : {0.0f, 0.02f}) {
      std::vector<float> x = logits_of(n, 7 + static_cast<uint32_t>(n));
      if (n > 20) {
        x[2] = -kInf;  // suppressed
        x[9] = x[0] - 200.0f;  // below e^-87 after the shift
      }
      const float shift = k_->scan_max(x).max;
      const float temperature = 0.7f;
      std::vector<float> want_p(n);
      for (size_t i = 0; i < n; ++i) want_p[i] = (x[i] - shift) / temperature;
      std::vector<double> sums((n + kBlock - 1) / kBlock);
      k_->shift_exp_block_sums(x, shift, temperature, min_weight, kBlock, sums);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(x[i], want_p[i]) << "processed logit " << i;
      std::vector<float> w(n);
      for (size_t b = 0; b < sums.size(); ++b) {
        const size_t begin = b * kBlock;
        const size_t len = std::min<size_t>(kBlock, n - begin);
        k_->exp_weights(std::span<const float>(x).subspan(begin, len), min_weight,
                        std::span<float>(w).subspan(begin, len));
        double ref_sum = 0.0;
        double walk_sum = 0.0;
        for (size_t i = begin; i < begin + len; ++i) {
          const double e = std::exp(static_cast<double>(x[i]));
          const double want = e >= min_weight && x[i] >= -87.0f ? e : 0.0;
          ref_sum += want;
          walk_sum += w[i];
          if (std::fabs(want - min_weight) < 1e-6) continue;  // either side of the cut
          if (want == 0.0) {
            EXPECT_EQ(w[i], 0.0f) << "id " << i;
            continue;
          }
          EXPECT_NEAR(w[i], want, want * 5e-7 + 1e-30) << "id " << i << " p " << x[i];
        }
        EXPECT_NEAR(sums[b], ref_sum, ref_sum * 1e-6 + 1e-30) << "block " << b << " n " << n;
        EXPECT_NEAR(sums[b], walk_sum, walk_sum * 1e-6 + 1e-30) << "block " << b;
      }
      if (n > 20) {
        EXPECT_EQ(w[2], 0.0f) << "-inf has weight 0";
        EXPECT_EQ(w[9], 0.0f) << "below e^-87 is 0";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, SamplingKernelsTest, ::testing::ValuesIn(supported_isas()),
                         [](const auto& p) { return testing::isa_param_name(p.param); });

}  // namespace
}  // namespace keel::backend
