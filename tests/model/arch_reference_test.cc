// Every supported architecture against the independent numpy reference
// (tools/reference_model.py), on random models that keel make-model writes:
// GQA and MHA, tied and untied embeddings, biases, Qwen3's q/k norm with
// head_dim != hidden / heads, InternLM2's grouped wqkv, RoPE scaling
// (llama3, linear, dynamic), f32/f16/bf16 weights, sharded checkpoints, and
// sequences spanning many KV blocks — for whole prefill and for one-token
// decode steps.
#include <gtest/gtest.h>

#include <random>

#include "keel/model/make_model.h"
#include "model/model_test_util.h"

namespace keel::model {
namespace {

namespace fs = std::filesystem;
using keel::testing::ModelHarness;
using keel::testing::relative_error;

struct Case {
  std::string name;
  MakeModelSpec spec;
  double prefill_tolerance = 1e-4;  // relative to max(1, max |logit|)
  double decode_tolerance = 1e-4;
  backend::GemmPrecision gemm = backend::GemmPrecision::kAuto;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// 4 heads, 2 KV heads, intermediate 128.
MakeModelSpec tiny(ModelArch arch) { return keel::testing::tiny_f32_spec(arch, 11); }

std::vector<Case> cases() {
  std::vector<Case> v;
  {
    Case c{"llama_gqa_untied_bias_llama3rope", tiny(ModelArch::kLlama)};
    c.spec.attention_bias = true;
    c.spec.rope_scaling = RopeScaling{RopeScalingType::kLlama3, 8.0, 1.0, 4.0, 64};
    v.push_back(c);
  }
  {
    Case c{"llama_mha_tied_sharded", tiny(ModelArch::kLlama)};
    c.spec.num_kv_heads = c.spec.num_heads;
    c.spec.tie_word_embeddings = true;
    c.spec.shard_size_bytes = 64 << 10;
    v.push_back(c);
  }
  {
    Case c{"llama_dynamic_ntk", tiny(ModelArch::kLlama)};
    c.spec.rope_scaling = RopeScaling{RopeScalingType::kDynamic, 2.0};
    v.push_back(c);
  }
  {
    Case c{"mistral_sliding_window", tiny(ModelArch::kMistral)};
    c.spec.sliding_window = 1024;
    v.push_back(c);
  }
  v.push_back({"qwen2_bias", tiny(ModelArch::kQwen2)});
  {
    Case c{"qwen2_bf16", tiny(ModelArch::kQwen2)};
    c.spec.dtype = DType::kBF16;
    // avx512bf16 GEMM rounds activations to bf16 in prefill (backend README).
    c.prefill_tolerance = 3e-2;
    v.push_back(c);
  }
  {
    Case c{"qwen3_qknorm_wide_heads_f16", tiny(ModelArch::kQwen3)};
    c.spec.head_dim = 32;  // != hidden 64 / 4 heads
    c.spec.dtype = DType::kF16;
    v.push_back(c);
  }
  {
    Case c{"llama_f16_bf16_gemm", tiny(ModelArch::kLlama)};
    c.spec.dtype = DType::kF16;
    c.gemm = backend::GemmPrecision::kBf16;
    // f16 weights and activations rounded to bf16 in the prefill GEMM;
    // decode (GEMV) stays exact.
    c.prefill_tolerance = 3e-2;
    v.push_back(c);
  }
  {
    Case c{"qwen2_bf16_f32_gemm", tiny(ModelArch::kQwen2)};
    c.spec.dtype = DType::kBF16;
    c.gemm = backend::GemmPrecision::kF32;  // exact products: the f32 tolerance
    v.push_back(c);
  }
  {
    Case c{"qwen3_tied_bias", tiny(ModelArch::kQwen3)};
    c.spec.tie_word_embeddings = true;
    c.spec.attention_bias = true;
    v.push_back(c);
  }
  {
    Case c{"internlm2_gqa_bias_linear_rope", tiny(ModelArch::kInternLM2)};
    c.spec.num_heads = 8;
    c.spec.head_dim = 8;
    c.spec.num_kv_heads = 2;
    c.spec.attention_bias = true;
    c.spec.rope_scaling = RopeScaling{RopeScalingType::kLinear, 2.0};
    v.push_back(c);
  }
  return v;
}

class ArchReferenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(ArchReferenceTest, LogitsMatchTheReference) {
  if (!keel::testing::have_reference()) GTEST_SKIP() << "/usr/bin/python3 with numpy is absent";
  const Case& c = GetParam();
  const fs::path dir = fs::temp_directory_path() /
                       ("keel_arch_" + c.name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(write_random_model(c.spec, dir.string()).ok());
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(c.spec.vocab_size - 1));
  std::vector<int32_t> tokens(45);
  for (auto& t : tokens) t = id(rng);
  const std::vector<float> ref = keel::testing::reference_logits(dir.string(), tokens);
  const auto vocab = static_cast<size_t>(c.spec.vocab_size);
  ASSERT_EQ(ref.size(), tokens.size() * vocab);

  {  // whole prefill, every row
    ModelHarness h(dir.string(), memory::KvDtype::kF32, /*block_size=*/4, uint64_t{4} << 30,
                   c.gemm);
    ASSERT_TRUE(h.status().ok()) << h.status().to_string();
    std::vector<float> logits = h.step({{h.new_sequence(), tokens}});
    ASSERT_EQ(logits.size(), ref.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      EXPECT_LE(relative_error(&logits[i * vocab], &ref[i * vocab], vocab), c.prefill_tolerance)
          << c.name << " prefill row " << i;
    }
  }
  {  // one token per step
    ModelHarness h(dir.string(), memory::KvDtype::kF32, /*block_size=*/16, uint64_t{4} << 30,
                   c.gemm);
    ASSERT_TRUE(h.status().ok()) << h.status().to_string();
    const size_t s = h.new_sequence();
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::vector<float> logits = h.step({{s, {tokens[i]}, LogitsWanted::kLast}});
      ASSERT_EQ(logits.size(), vocab);
      EXPECT_LE(relative_error(logits.data(), &ref[i * vocab], vocab), c.decode_tolerance)
          << c.name << " decode step " << i;
    }
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Architectures, ArchReferenceTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

}  // namespace
}  // namespace keel::model
