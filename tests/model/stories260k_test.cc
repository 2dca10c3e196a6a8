// Reads a real safetensors file written outside keel (by PyTorch/HF):
// ../shared/models/stories260K, checked against its config.json.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "keel/model/safetensors.h"

namespace keel::model {
namespace {

namespace fs = std::filesystem;

std::optional<fs::path> stories_dir() {
  std::vector<fs::path> candidates;
  if (const char* src = std::getenv("KEEL_SOURCE_DIR")) {
    candidates.push_back(fs::path(src) / ".." / "shared" / "models" / "stories260K");
  }
  candidates.emplace_back("/work/shared/models/stories260K");
  for (const auto& c : candidates) {
    if (fs::exists(c / "model.safetensors") && fs::exists(c / "config.json")) return c;
  }
  return std::nullopt;
}

std::vector<int64_t> shape_of(const TensorView& t) { return {t.shape.begin(), t.shape.end()}; }

TEST(Stories260kTest, TensorNamesAndShapesMatchConfig) {
  auto dir = stories_dir();
  if (!dir) GTEST_SKIP() << "../shared/models/stories260K is absent; nothing to check";
  nlohmann::json config = nlohmann::json::parse(std::ifstream(*dir / "config.json"));
  const int64_t hidden = config["hidden_size"];
  const int64_t layers = config["num_hidden_layers"];
  const int64_t heads = config["num_attention_heads"];
  const int64_t kv_heads = config["num_key_value_heads"];
  const int64_t head_dim = config["head_dim"];
  const int64_t inter = config["intermediate_size"];
  const int64_t vocab = config["vocab_size"];
  ASSERT_TRUE(config["tie_word_embeddings"].get<bool>());

  auto model = SafetensorsModel::open(dir->string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  // embed + per layer (2 norms, 4 attention, 3 MLP) + final norm; no lm_head (tied).
  EXPECT_EQ(model->num_tensors(), static_cast<size_t>(2 + 9 * layers));
  EXPECT_FALSE(model->contains("lm_head.weight"));
  EXPECT_EQ(model->files().front().metadata().at("format"), "pt");

  auto expect = [&](const std::string& name, std::vector<int64_t> shape) {
    auto t = model->tensor(name);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->dtype, DType::kF32) << name;
    EXPECT_EQ(shape_of(*t), shape) << name;
    EXPECT_EQ(t->bytes, static_cast<uint64_t>(t->num_elements()) * 4) << name;
    // Weights of a trained model are finite and not all zero.
    const float* v = static_cast<const float*>(t->data);
    bool any_nonzero = false;
    for (int64_t i = 0; i < t->num_elements(); ++i) {
      ASSERT_TRUE(std::isfinite(v[i])) << name << "[" << i << "]";
      any_nonzero = any_nonzero || v[i] != 0.0f;
    }
    EXPECT_TRUE(any_nonzero) << name;
  };
  expect("model.embed_tokens.weight", {vocab, hidden});
  expect("model.norm.weight", {hidden});
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    expect(p + "input_layernorm.weight", {hidden});
    expect(p + "post_attention_layernorm.weight", {hidden});
    expect(p + "self_attn.q_proj.weight", {heads * head_dim, hidden});
    expect(p + "self_attn.k_proj.weight", {kv_heads * head_dim, hidden});
    expect(p + "self_attn.v_proj.weight", {kv_heads * head_dim, hidden});
    expect(p + "self_attn.o_proj.weight", {hidden, heads * head_dim});
    expect(p + "mlp.gate_proj.weight", {inter, hidden});
    expect(p + "mlp.up_proj.weight", {inter, hidden});
    expect(p + "mlp.down_proj.weight", {hidden, inter});
  }
}

TEST(Stories260kTest, RewrittenCopyReadsBackIdentically) {
  auto dir = stories_dir();
  if (!dir) GTEST_SKIP() << "../shared/models/stories260K is absent; nothing to check";
  auto original = SafetensorsFile::open((*dir / "model.safetensors").string());
  ASSERT_TRUE(original.ok()) << original.status().to_string();
  std::vector<TensorToWrite> tensors;
  for (std::string_view name : original->tensor_names()) {
    TensorView t = *original->tensor(name);
    tensors.push_back({std::string(name), t.dtype, shape_of(t),
                       {static_cast<const std::byte*>(t.data), t.bytes}});
  }
  std::map<std::string, std::string> metadata(original->metadata().begin(),
                                              original->metadata().end());
  auto bytes = serialize_safetensors(tensors, metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto copy = SafetensorsFile::parse(*bytes, "copy");
  ASSERT_TRUE(copy.ok()) << copy.status().to_string();
  ASSERT_EQ(copy->tensor_names(), original->tensor_names());
  for (std::string_view name : original->tensor_names()) {
    TensorView a = *original->tensor(name), b = *copy->tensor(name);
    ASSERT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.bytes), 0) << name;
  }
}

}  // namespace
}  // namespace keel::model
