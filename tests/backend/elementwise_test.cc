// Parity of rmsnorm (incl. per-head q/k norm), RoPE, SwiGLU, softmax,
// residual add and embedding lookup, every ISA variant, against ref::.
//
// Tolerances (absolute, inputs in [-1, 1] or [-8, 8]):
//   rmsnorm, add, embedding, rope: 1e-5 (same math, different order / table)
//   swiglu, softmax: 2e-6 relative + 1e-7 (vector exp is a degree-6
//   polynomial, ~2 ulp from std::exp)
#include <gtest/gtest.h>

#include <cmath>

#include "backend_test_util.h"
#include "keel/backend/cpu/reference.h"
#include "keel/backend/rope.h"

namespace keel::backend {
namespace {

using testing::make_typed;
using testing::random_floats;

constexpr int64_t kSizes[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 896, 1001};

class ElementwiseTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    auto k = CpuKernels::create(GetParam(), nullptr);
    ASSERT_TRUE(k.ok()) << k.status().to_string();
    k_ = std::make_unique<CpuKernels>(*k);
  }
  std::unique_ptr<CpuKernels> k_;
};

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, double abs,
                     double rel, const char* what, int64_t n) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], abs + rel * std::fabs(want[i])) << what << " n=" << n << " i=" << i;
  }
}

TEST_P(ElementwiseTest, RmsNorm) {
  for (int64_t dim : kSizes) {
    for (int64_t rows : {1, 3}) {
      const auto x = random_floats(static_cast<size_t>(rows * dim), 7 + dim);  // (rows, dim)
      const auto w = random_floats(static_cast<size_t>(dim), 8 + dim);         // (dim)
      std::vector<float> y(x.size()), want(x.size());
      ASSERT_TRUE(k_->rmsnorm(x.data(), w.data(), 1e-6f, rows, dim, y.data()).ok());
      ref::rmsnorm(x.data(), w.data(), 1e-6f, rows, dim, want.data());
      expect_near_all(y, want, 1e-5, 1e-5, "rmsnorm", dim);
    }
  }
}

TEST_P(ElementwiseTest, PerHeadQkNorm) {
  // Qwen3: q (n_tokens, n_heads, head_dim) normalised per head with a
  // (head_dim) weight == rmsnorm over rows = n_tokens * n_heads.
  const int64_t n_tokens = 3, n_heads = 5, head_dim = 64;
  const auto q = random_floats(static_cast<size_t>(n_tokens * n_heads * head_dim), 11);
  const auto w = random_floats(static_cast<size_t>(head_dim), 12);
  std::vector<float> y(q.size()), want(q.size());
  ASSERT_TRUE(k_->rmsnorm(q.data(), w.data(), 1e-6f, n_tokens * n_heads, head_dim, y.data()).ok());
  for (int64_t r = 0; r < n_tokens * n_heads; ++r) {
    ref::rmsnorm(q.data() + r * head_dim, w.data(), 1e-6f, 1, head_dim, want.data() + r * head_dim);
  }
  expect_near_all(y, want, 1e-5, 1e-5, "qk-norm", head_dim);
}

TEST_P(ElementwiseTest, SwiGlu) {
  for (int64_t n : kSizes) {
    const auto g = random_floats(static_cast<size_t>(n), 20 + n, -12.0f, 12.0f);
    const auto u = random_floats(static_cast<size_t>(n), 21 + n);
    std::vector<float> y(g.size()), want(g.size());
    ASSERT_TRUE(k_->swiglu(g.data(), u.data(), n, y.data()).ok());
    ref::swiglu(g.data(), u.data(), n, want.data());
    expect_near_all(y, want, 1e-7, 2e-6, "swiglu", n);
  }
}

TEST_P(ElementwiseTest, AddAliasingOutput) {
  for (int64_t n : kSizes) {
    auto a = random_floats(static_cast<size_t>(n), 30 + n);
    const auto b = random_floats(static_cast<size_t>(n), 31 + n);
    std::vector<float> want(a.size());
    ref::add(a.data(), b.data(), n, want.data());
    ASSERT_TRUE(k_->add(a.data(), b.data(), n, a.data()).ok());  // residual += b
    expect_near_all(a, want, 0, 0, "add", n);
  }
}

TEST_P(ElementwiseTest, Softmax) {
  for (int64_t n : kSizes) {
    auto x = random_floats(static_cast<size_t>(2 * n), 40 + n, -30.0f, 30.0f);  // (2, n)
    auto want = x;
    ASSERT_TRUE(k_->softmax(x.data(), 2, n).ok());
    ref::softmax(want.data(), 2, n);
    expect_near_all(x, want, 1e-7, 2e-6, "softmax", n);
  }
}

TEST_P(ElementwiseTest, Embedding) {
  const int64_t vocab = 50;
  for (DType t : testing::kAllDTypes) {
    for (int64_t dim : {1, 17, 64, 100}) {
      const auto table = make_typed(random_floats(static_cast<size_t>(vocab * dim), 50 + dim), t);
      const std::vector<int32_t> ids = {0, 49, 7, 7, 13};
      std::vector<float> out(ids.size() * static_cast<size_t>(dim)), want(out.size());
      ASSERT_TRUE(k_->embedding({table.data(), t, vocab, dim}, ids, out.data()).ok());
      ref::embedding(table.data(), t, dim, ids.data(), static_cast<int64_t>(ids.size()), want.data());
      expect_near_all(out, want, 0, 0, "embedding", dim);
    }
  }
  float out[4];
  std::vector<float> table(8);
  const std::vector<int32_t> bad = {2};
  EXPECT_EQ(k_->embedding({table.data(), DType::kF32, 2, 4}, bad, out).code(),
            StatusCode::kInvalidArgument);
}

TEST_P(ElementwiseTest, Rope) {
  for (int head_dim : {2, 18, 64, 128}) {
    RopeConfig cfg;
    cfg.head_dim = head_dim;
    cfg.theta = 1e6;
    auto inv = rope_inv_freq(cfg);
    ASSERT_TRUE(inv.ok());
    auto table = RopeTable::create(*inv, 5000);
    ASSERT_TRUE(table.ok());
    const int n_heads = 3;
    const std::vector<int32_t> pos = {0, 1, 17, 4095};
    auto x = random_floats(pos.size() * n_heads * static_cast<size_t>(head_dim), 60 + head_dim);
    auto want = x;
    ASSERT_TRUE(k_->rope(x.data(), static_cast<int64_t>(pos.size()), n_heads, head_dim, pos, *table).ok());
    ref::rope(want.data(), static_cast<int64_t>(pos.size()), n_heads, head_dim, pos.data(), inv->data());
    expect_near_all(x, want, 1e-5, 0, "rope", head_dim);
  }
}

TEST_P(ElementwiseTest, RopeRejectsPositionOutsideTable) {
  RopeConfig cfg;
  cfg.head_dim = 8;
  auto table = RopeTable::create(*rope_inv_freq(cfg), 10);
  ASSERT_TRUE(table.ok());
  std::vector<float> x(8);
  const std::vector<int32_t> pos = {10};
  EXPECT_EQ(k_->rope(x.data(), 1, 1, 8, pos, *table).code(), StatusCode::kOutOfRange);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, ElementwiseTest, ::testing::ValuesIn(supported_isas()),
                         [](const auto& p) { return testing::isa_param_name(p.param); });

TEST(RopeInvFreq, DefaultAndLinear) {
  RopeConfig cfg;
  cfg.head_dim = 64;
  cfg.theta = 10000;
  auto inv = rope_inv_freq(cfg);
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->size(), 32u);
  for (int i = 0; i < 32; ++i) {
    EXPECT_FLOAT_EQ((*inv)[i], static_cast<float>(1.0 / std::pow(10000.0, 2.0 * i / 64)));
  }
  cfg.scaling = RopeScalingType::kLinear;
  cfg.factor = 4;
  auto lin = rope_inv_freq(cfg);
  ASSERT_TRUE(lin.ok());
  for (int i = 0; i < 32; ++i) EXPECT_FLOAT_EQ((*lin)[i], (*inv)[i] / 4);
}

TEST(RopeInvFreq, Llama3) {
  // Llama-3.1/3.2 rope_scaling: factor 32 (3.2) with low 1, high 4, original 8192.
  RopeConfig cfg;
  cfg.head_dim = 64;
  cfg.theta = 500000;
  auto base = rope_inv_freq(cfg);
  cfg.scaling = RopeScalingType::kLlama3;
  cfg.factor = 32;
  cfg.low_freq_factor = 1;
  cfg.high_freq_factor = 4;
  cfg.original_max_positions = 8192;
  auto inv = rope_inv_freq(cfg);
  ASSERT_TRUE(inv.ok() && base.ok());
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < 32; ++i) {
    const double f = (*base)[i];
    const double wavelen = 2 * pi / f;
    double want;
    if (wavelen < 8192.0 / 4) {
      want = f;
    } else if (wavelen > 8192.0 / 1) {
      want = f / 32;
    } else {
      const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
      want = (1 - smooth) * f / 32 + smooth * f;
    }
    EXPECT_NEAR((*inv)[i], want, 1e-6 * want) << i;
  }
  EXPECT_FLOAT_EQ((*inv)[0], (*base)[0]);       // highest frequency unchanged
  EXPECT_FLOAT_EQ((*inv)[31], (*base)[31] / 32);  // lowest divided by factor
}

TEST(RopeInvFreq, DynamicNtk) {
  RopeConfig cfg;
  cfg.head_dim = 64;
  cfg.theta = 10000;
  cfg.scaling = RopeScalingType::kDynamicNtk;
  cfg.factor = 2;
  cfg.original_max_positions = 2048;
  auto within = rope_inv_freq(cfg, 2048);
  auto plain = rope_inv_freq(RopeConfig{64, 10000});
  ASSERT_TRUE(within.ok() && plain.ok());
  EXPECT_EQ(*within, *plain);  // no change up to the original length
  auto beyond = rope_inv_freq(cfg, 4096);
  ASSERT_TRUE(beyond.ok());
  const double b = 10000 * std::pow(2.0 * 4096 / 2048 - 1, 64.0 / 62.0);
  for (int i = 0; i < 32; ++i) {
    EXPECT_FLOAT_EQ((*beyond)[i], static_cast<float>(1.0 / std::pow(b, 2.0 * i / 64)));
  }
  EXPECT_EQ(rope_inv_freq(RopeConfig{7, 10000}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keel::backend
