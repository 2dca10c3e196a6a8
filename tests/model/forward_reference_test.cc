// keel's forward pass against the independent numpy reference
// (tools/reference_model.py, written from the HF modeling equations), on the
// fixed-weight stories260K model from outside keel: whole prefill, chunked
// prefill, step-by-step decode and a mixed batch, over blocks of 4 tokens
// (so every context spans many KV blocks).
#include <gtest/gtest.h>

#include <random>

#include "model/model_test_util.h"

namespace keel::model {
namespace {

using keel::testing::ModelHarness;
using keel::testing::relative_error;

constexpr double kF32Tolerance = 1e-4;

std::vector<int32_t> random_tokens(size_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> v(n);
  for (auto& t : v) t = d(rng);
  return v;
}

class Stories260kForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = keel::testing::stories260k_dir();
    if (!dir) GTEST_SKIP() << "../shared/models/stories260K is absent; nothing to check";
    if (!keel::testing::have_reference()) GTEST_SKIP() << "/usr/bin/python3 with numpy is absent";
    dir_ = dir->string();
    tokens_ = random_tokens(37, 512, 7);
    tokens_[0] = 1;  // BOS
    ref_ = keel::testing::reference_logits(dir_, tokens_);
    ASSERT_EQ(ref_.size(), tokens_.size() * 512);
  }
  std::string dir_;
  std::vector<int32_t> tokens_;
  std::vector<float> ref_;
};

TEST_F(Stories260kForwardTest, PrefillMatchesReference) {
  ModelHarness h(dir_);
  ASSERT_TRUE(h.status().ok()) << h.status().to_string();
  const size_t s = h.new_sequence();
  std::vector<float> logits = h.step({{s, tokens_}});
  ASSERT_EQ(logits.size(), ref_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    EXPECT_LE(relative_error(&logits[i * 512], &ref_[i * 512], 512), kF32Tolerance) << "row " << i;
  }
}

TEST_F(Stories260kForwardTest, DecodeOneTokenAtATimeMatchesReference) {
  ModelHarness h(dir_);
  ASSERT_TRUE(h.status().ok()) << h.status().to_string();
  const size_t s = h.new_sequence();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    std::vector<float> logits = h.step({{s, {tokens_[i]}, LogitsWanted::kLast}});
    ASSERT_EQ(logits.size(), 512u);
    EXPECT_LE(relative_error(logits.data(), &ref_[i * 512], 512), kF32Tolerance) << "step " << i;
  }
}

TEST_F(Stories260kForwardTest, ChunkedPrefillThenDecodeMatchesReference) {
  ModelHarness h(dir_, memory::KvDtype::kF32, /*block_size=*/16);
  ASSERT_TRUE(h.status().ok()) << h.status().to_string();
  const size_t s = h.new_sequence();
  size_t pos = 0;
  for (size_t chunk : {5u, 11u, 16u}) {  // crosses block boundaries mid-chunk
    std::vector<int32_t> part(tokens_.begin() + static_cast<long>(pos),
                              tokens_.begin() + static_cast<long>(pos + chunk));
    std::vector<float> logits = h.step({{s, part, LogitsWanted::kLast}});
    pos += chunk;
    EXPECT_LE(relative_error(logits.data(), &ref_[(pos - 1) * 512], 512), kF32Tolerance)
        << "after " << pos << " tokens";
  }
  for (; pos < tokens_.size(); ++pos) {
    std::vector<float> logits = h.step({{s, {tokens_[pos]}, LogitsWanted::kLast}});
    EXPECT_LE(relative_error(logits.data(), &ref_[pos * 512], 512), kF32Tolerance) << pos;
  }
}

// Several prefills and decodes in one call give what each sequence gives alone.
TEST_F(Stories260kForwardTest, MixedBatchEqualsSequencesAlone) {
  const std::vector<int32_t> a = random_tokens(9, 512, 1);
  const std::vector<int32_t> b = random_tokens(3, 512, 2);
  ModelHarness alone(dir_);
  ModelHarness mixed(dir_);
  ASSERT_TRUE(alone.status().ok() && mixed.status().ok());
  // Alone: a (prefill 6, then 3 decodes), b (prefill 3).
  const size_t sa = alone.new_sequence();
  const size_t sb = alone.new_sequence();
  std::vector<std::vector<float>> want;
  want.push_back(alone.step({{sa, {a.begin(), a.begin() + 6}, LogitsWanted::kLast}}));
  want.push_back(alone.step({{sb, b, LogitsWanted::kAll}}));
  for (size_t i = 6; i < 9; ++i) want.push_back(alone.step({{sa, {a[i]}, LogitsWanted::kLast}}));
  // Mixed: step 1 = a's prefill + b's prefill; steps 2..4 = a's decodes with a
  // third sequence's prefill chunks riding along.
  const size_t ma = mixed.new_sequence();
  const size_t mb = mixed.new_sequence();
  const size_t mc = mixed.new_sequence();
  std::vector<float> s1 = mixed.step({{ma, {a.begin(), a.begin() + 6}, LogitsWanted::kLast},
                                      {mb, b, LogitsWanted::kAll}});
  ASSERT_EQ(s1.size(), 4u * 512);
  EXPECT_LE(relative_error(s1.data(), want[0].data(), 512), 1e-5);
  EXPECT_LE(relative_error(s1.data() + 512, want[1].data(), 3 * 512), 1e-5);
  for (size_t i = 6; i < 9; ++i) {
    std::vector<float> s = mixed.step({{mc, random_tokens(5, 512, static_cast<uint32_t>(i)),
                                        LogitsWanted::kNone},
                                       {ma, {a[i]}, LogitsWanted::kLast}});
    ASSERT_EQ(s.size(), 512u);
    EXPECT_LE(relative_error(s.data(), want[i - 4].data(), 512), 1e-5) << i;
  }
}

TEST_F(Stories260kForwardTest, GreedyDecodingIsDeterministic) {
  auto greedy = [&] {
    ModelHarness h(dir_, memory::KvDtype::kF32, 16);
    EXPECT_TRUE(h.status().ok());
    const size_t s = h.new_sequence();
    std::vector<int32_t> out{1};
    std::vector<float> logits = h.step({{s, out, LogitsWanted::kLast}});
    for (int i = 0; i < 40; ++i) {
      const auto next = static_cast<int32_t>(
          std::max_element(logits.begin(), logits.end()) - logits.begin());
      out.push_back(next);
      logits = h.step({{s, {next}, LogitsWanted::kLast}});
    }
    return out;
  };
  const std::vector<int32_t> first = greedy();
  EXPECT_EQ(first, greedy());
  // The reference's greedy start from BOS (tools/reference_model_selftest.py).
  const std::vector<int32_t> ref_prefix{1, 461, 461, 401, 401, 401, 461, 378};
  EXPECT_TRUE(std::equal(ref_prefix.begin(), ref_prefix.end(), first.begin()));
}

}  // namespace
}  // namespace keel::model
