// config.json / generation_config.json parsing: every architecture's
// conventions, and clear errors for what keel cannot run.
#include "keel/model/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace keel::model {
namespace {

using Json = nlohmann::json;

Json base(const std::string& arch) {
  return Json{{"architectures", {arch}},  {"hidden_size", 64},       {"intermediate_size", 128},
              {"num_hidden_layers", 2},    {"num_attention_heads", 4}, {"num_key_value_heads", 2},
              {"vocab_size", 100},         {"max_position_embeddings", 256},
              {"rms_norm_eps", 1e-5},      {"rope_theta", 10000.0}};
}

Result<ModelConfig> parse(const Json& j) { return parse_model_config(j.dump(), "config.json"); }

TEST(ModelConfigTest, LlamaDefaults) {
  auto c = parse(base("LlamaForCausalLM"));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->arch, Architecture::kLlama);
  EXPECT_EQ(c->head_dim, 16);
  EXPECT_EQ(c->q_dim(), 64);
  EXPECT_EQ(c->kv_dim(), 32);
  EXPECT_FALSE(c->qkv_bias || c->o_bias || c->mlp_bias || c->qk_norm || c->tie_word_embeddings);
  EXPECT_EQ(c->max_context_tokens, 256);
  EXPECT_EQ(c->rope.scaling, backend::RopeScalingType::kNone);
}

TEST(ModelConfigTest, ArchitectureFlags) {
  Json q2 = base("Qwen2ForCausalLM");
  EXPECT_TRUE(parse(q2)->qkv_bias);
  EXPECT_FALSE(parse(q2)->o_bias);
  Json q3 = base("Qwen3ForCausalLM");
  q3["head_dim"] = 32;  // differs from hidden / heads
  auto c3 = parse(q3);
  ASSERT_TRUE(c3.ok());
  EXPECT_TRUE(c3->qk_norm);
  EXPECT_EQ(c3->q_dim(), 128);
  Json il = base("InternLM2ForCausalLM");
  il["bias"] = true;
  EXPECT_TRUE(parse(il)->qkv_bias && parse(il)->o_bias);
  Json ll = base("LlamaForCausalLM");
  ll["attention_bias"] = true;
  ll["mlp_bias"] = true;
  ll["tie_word_embeddings"] = true;
  auto cl = parse(ll);
  EXPECT_TRUE(cl->qkv_bias && cl->o_bias && cl->mlp_bias && cl->tie_word_embeddings);
}

TEST(ModelConfigTest, SlidingWindowLimitsTheContext) {
  Json m = base("MistralForCausalLM");
  m["sliding_window"] = 100;
  EXPECT_EQ(parse(m)->max_context_tokens, 100);
  m["sliding_window"] = nullptr;
  EXPECT_EQ(parse(m)->max_context_tokens, 256);
  Json q = base("Qwen2ForCausalLM");
  q["sliding_window"] = 100;  // ignored unless use_sliding_window
  EXPECT_EQ(parse(q)->max_context_tokens, 256);
  q["use_sliding_window"] = true;
  EXPECT_EQ(parse(q)->max_context_tokens, 100);
}

TEST(ModelConfigTest, RopeScalingTypes) {
  Json j = base("LlamaForCausalLM");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  auto c = parse(j);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->rope.scaling, backend::RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope.factor, 32.0);
  EXPECT_EQ(c->rope.original_max_positions, 8192);
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_EQ(parse(j)->rope.scaling, backend::RopeScalingType::kLinear);
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  EXPECT_EQ(parse(j)->rope.scaling, backend::RopeScalingType::kDynamicNtk);
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 2.0}};
  EXPECT_EQ(parse(j).status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(parse(j).status().message().find("yarn"), std::string_view::npos);
}

TEST(ModelConfigTest, EosIdsIntOrList) {
  Json j = base("LlamaForCausalLM");
  j["eos_token_id"] = Json::array({128001, 128008, 128009});
  j["bos_token_id"] = 128000;
  auto c = parse(j);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_EQ(c->bos_token_id, 128000);
  j["eos_token_id"] = 2;
  EXPECT_EQ(parse(j)->eos_token_ids, std::vector<int32_t>{2});
  j["eos_token_id"] = "two";
  EXPECT_EQ(parse(j).status().code(), StatusCode::kInvalidArgument);
}

TEST(ModelConfigTest, ClearErrors) {
  auto unknown = parse(base("GPT2LMHeadModel"));
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(unknown.status().message().find("Qwen2ForCausalLM"), std::string_view::npos)
      << "lists what is supported: " << unknown.status().message();
  Json missing = base("LlamaForCausalLM");
  missing.erase("hidden_size");
  EXPECT_NE(parse(missing).status().message().find("hidden_size"), std::string_view::npos);
  Json gqa = base("LlamaForCausalLM");
  gqa["num_key_value_heads"] = 3;
  EXPECT_NE(parse(gqa).status().message().find("multiple"), std::string_view::npos);
  Json act = base("LlamaForCausalLM");
  act["hidden_act"] = "gelu";
  EXPECT_EQ(parse(act).status().code(), StatusCode::kUnimplemented);
  Json neg = base("LlamaForCausalLM");
  neg["vocab_size"] = -5;
  EXPECT_EQ(parse(neg).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_model_config("{not json", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_model_config("[1]", "x").status().code(), StatusCode::kInvalidArgument);
  const std::string deep = R"({"rope_scaling":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  auto too_deep = parse_model_config(deep, "config.json");
  EXPECT_EQ(too_deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_deep.status().message().find("config.json nests arrays/objects more than 256"),
            std::string_view::npos)
      << too_deep.status().message();
  EXPECT_EQ(load_model_config("/nonexistent/dir").status().code(), StatusCode::kNotFound);
}

TEST(ModelConfigTest, GenerationConfig) {
  auto g = parse_generation_config(
      R"({"eos_token_id": [1, 2], "bos_token_id": 0, "temperature": 0.7, "top_p": 0.9,
          "top_k": 20, "do_sample": true, "repetition_penalty": 1.1})",
      "generation_config.json");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->eos_token_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_FLOAT_EQ(*g->temperature, 0.7f);
  EXPECT_EQ(*g->top_k, 20);
  EXPECT_TRUE(*g->do_sample);
  EXPECT_EQ(load_generation_config("/nonexistent")->eos_token_ids.size(), 0u);
}

}  // namespace
}  // namespace keel::model
