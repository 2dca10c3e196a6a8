// make_model: random HF model folders re-read with SafetensorsModel, against
// tensor names, shapes and config keys written out here by hand from real
// checkpoints (not from make_model's own tables).
#include "keel/model/make_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "keel/model/safetensors.h"

namespace keel::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fs::path& p) { return json::parse(read(p)); }

std::vector<int64_t> shape_of(const TensorView& t) { return {t.shape.begin(), t.shape.end()}; }

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t{b} << 16); }
float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  if (exp == 0) return std::bit_cast<float>(sign) + (sign ? -1.0f : 1.0f) * std::ldexp(float(man), -24);
  if (exp == 31) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
}

// The tensor as floats, whatever its dtype.
std::vector<float> values(const TensorView& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements()));
  const auto* p = static_cast<const std::byte*>(t.data);
  for (size_t i = 0; i < out.size(); ++i) {
    if (t.dtype == DType::kF32) {
      std::memcpy(&out[i], p + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = t.dtype == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
  }
  return out;
}

struct Stats {
  double mean = 0, std = 0;
};
Stats stats(const std::vector<float>& v) {
  Stats s;
  for (float x : v) s.mean += x;
  s.mean /= double(v.size());
  for (float x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / double(v.size()));
  return s;
}

class MakeModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("keel_mk_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path write(const MakeModelSpec& spec, const std::string& name,
                 const WriteModelOptions& options = {}) {
    fs::path dir = root_ / name;
    Status s = write_random_model(spec, dir.string(), options);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return dir;
  }

  static MakeModelSpec tiny(ModelArch arch, DType dtype = DType::kF32) {
    auto s = preset_spec(arch, "tiny");
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    s->dtype = dtype;
    return *s;
  }

  fs::path root_;
};

// Names and shapes as in the real checkpoints of each architecture.
std::map<std::string, std::vector<int64_t>> expected_tensors(ModelArch arch, int64_t layers,
                                                             int64_t H, int64_t A, int64_t K,
                                                             int64_t D, int64_t I, int64_t V,
                                                             bool tied, bool bias) {
  std::map<std::string, std::vector<int64_t>> t;
  if (arch == ModelArch::kInternLM2) {
    t["model.tok_embeddings.weight"] = {V, H};
    for (int64_t i = 0; i < layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      t[p + "attention_norm.weight"] = {H};
      t[p + "attention.wqkv.weight"] = {K * (A / K + 2) * D, H};
      t[p + "attention.wo.weight"] = {H, A * D};
      if (bias) {
        t[p + "attention.wqkv.bias"] = {K * (A / K + 2) * D};
        t[p + "attention.wo.bias"] = {H};
      }
      t[p + "ffn_norm.weight"] = {H};
      t[p + "feed_forward.w1.weight"] = {I, H};
      t[p + "feed_forward.w3.weight"] = {I, H};
      t[p + "feed_forward.w2.weight"] = {H, I};
    }
    t["model.norm.weight"] = {H};
    if (!tied) t["output.weight"] = {V, H};
    return t;
  }
  t["model.embed_tokens.weight"] = {V, H};
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    t[p + "input_layernorm.weight"] = {H};
    t[p + "self_attn.q_proj.weight"] = {A * D, H};
    t[p + "self_attn.k_proj.weight"] = {K * D, H};
    t[p + "self_attn.v_proj.weight"] = {K * D, H};
    t[p + "self_attn.o_proj.weight"] = {H, A * D};
    if (arch == ModelArch::kQwen2 || bias) {
      t[p + "self_attn.q_proj.bias"] = {A * D};
      t[p + "self_attn.k_proj.bias"] = {K * D};
      t[p + "self_attn.v_proj.bias"] = {K * D};
    }
    if (bias) t[p + "self_attn.o_proj.bias"] = {H};
    if (arch == ModelArch::kQwen3) {
      t[p + "self_attn.q_norm.weight"] = {D};
      t[p + "self_attn.k_norm.weight"] = {D};
    }
    t[p + "post_attention_layernorm.weight"] = {H};
    t[p + "mlp.gate_proj.weight"] = {I, H};
    t[p + "mlp.up_proj.weight"] = {I, H};
    t[p + "mlp.down_proj.weight"] = {H, I};
  }
  t["model.norm.weight"] = {H};
  if (!tied) t["lm_head.weight"] = {V, H};
  return t;
}

void expect_model_matches(const fs::path& dir, const MakeModelSpec& s) {
  auto model = SafetensorsModel::open(dir.string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto expected = expected_tensors(s.arch, s.num_layers, s.hidden_size, s.num_heads,
                                   s.num_kv_heads, s.head_dim, s.intermediate_size, s.vocab_size,
                                   s.tie_word_embeddings, s.attention_bias);
  std::set<std::string> names;
  for (std::string_view n : model->tensor_names()) names.emplace(n);
  std::set<std::string> want;
  for (const auto& [n, shape] : expected) want.insert(n);
  EXPECT_EQ(names, want);
  for (const auto& [n, shape] : expected) {
    auto t = model->tensor(n);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(shape_of(*t), shape) << n;
    EXPECT_EQ(t->dtype, s.dtype) << n;
  }
  EXPECT_EQ(model->files().front().metadata().at("format"), "pt");
}

struct ArchCase {
  ModelArch arch;
  std::string_view hf_class;
};
const ArchCase kArchCases[] = {{ModelArch::kLlama, "LlamaForCausalLM"},
                               {ModelArch::kMistral, "MistralForCausalLM"},
                               {ModelArch::kQwen2, "Qwen2ForCausalLM"},
                               {ModelArch::kQwen3, "Qwen3ForCausalLM"},
                               {ModelArch::kInternLM2, "InternLM2ForCausalLM"}};

TEST_F(MakeModelTest, EveryArchitectureHasHfNamesShapesAndConfig) {
  for (const ArchCase& c : kArchCases) {
    SCOPED_TRACE(std::string(model_arch_name(c.arch)));
    MakeModelSpec s = tiny(c.arch);
    fs::path dir = write(s, std::string(model_arch_name(c.arch)));
    expect_model_matches(dir, s);
    EXPECT_EQ(tensor_specs(s).size(), SafetensorsModel::open(dir.string())->num_tensors());

    json cfg = read_json(dir / "config.json");
    EXPECT_EQ(cfg["architectures"], json::array({c.hf_class}));
    EXPECT_EQ(cfg["model_type"], model_arch_name(c.arch));
    EXPECT_EQ(cfg["hidden_size"], 64);
    EXPECT_EQ(cfg["intermediate_size"], 128);
    EXPECT_EQ(cfg["num_hidden_layers"], 2);
    EXPECT_EQ(cfg["num_attention_heads"], 4);
    EXPECT_EQ(cfg["num_key_value_heads"], 2);
    EXPECT_EQ(cfg["vocab_size"], 512);
    EXPECT_EQ(cfg["max_position_embeddings"], 2048);
    EXPECT_EQ(cfg["rms_norm_eps"], 1e-5);
    EXPECT_EQ(cfg["rope_theta"], 10000.0);
    EXPECT_TRUE(cfg["rope_scaling"].is_null());
    EXPECT_EQ(cfg["tie_word_embeddings"], false);
    EXPECT_EQ(cfg["hidden_act"], "silu");
    EXPECT_EQ(cfg["bos_token_id"], 1);
    EXPECT_EQ(cfg["eos_token_id"], 2);
    EXPECT_EQ(cfg["torch_dtype"], "float32");
    switch (c.arch) {
      case ModelArch::kInternLM2:
        EXPECT_EQ(cfg["bias"], false);
        EXPECT_FALSE(cfg.contains("head_dim"));
        EXPECT_EQ(cfg["auto_map"]["AutoModelForCausalLM"], "modeling_internlm2.InternLM2ForCausalLM");
        EXPECT_EQ(cfg["auto_map"]["AutoConfig"], "configuration_internlm2.InternLM2Config");
        break;
      case ModelArch::kQwen2:
        EXPECT_EQ(cfg["head_dim"], 16);
        EXPECT_EQ(cfg["use_sliding_window"], false);
        EXPECT_EQ(cfg["sliding_window"], 2048);
        EXPECT_EQ(cfg["max_window_layers"], 2);
        EXPECT_FALSE(cfg.contains("attention_bias"));  // q/k/v biases are implied
        break;
      case ModelArch::kQwen3:
        EXPECT_EQ(cfg["head_dim"], 16);
        EXPECT_EQ(cfg["attention_bias"], false);
        EXPECT_EQ(cfg["use_sliding_window"], false);
        EXPECT_TRUE(cfg["sliding_window"].is_null());
        break;
      case ModelArch::kMistral:
        EXPECT_EQ(cfg["head_dim"], 16);
        EXPECT_TRUE(cfg["sliding_window"].is_null());
        break;
      case ModelArch::kLlama:
        EXPECT_EQ(cfg["head_dim"], 16);
        EXPECT_EQ(cfg["attention_bias"], false);
        EXPECT_EQ(cfg["mlp_bias"], false);
        break;
    }
    json gen = read_json(dir / "generation_config.json");
    EXPECT_EQ(gen["bos_token_id"], 1);
    EXPECT_EQ(gen["eos_token_id"], 2);
    EXPECT_FALSE(fs::exists(dir / "tokenizer.json"));
  }
}

TEST_F(MakeModelTest, BiasesTiesAndSlidingWindow) {
  for (ModelArch arch : {ModelArch::kLlama, ModelArch::kQwen3, ModelArch::kInternLM2}) {
    SCOPED_TRACE(std::string(model_arch_name(arch)));
    MakeModelSpec s = tiny(arch, DType::kBF16);
    s.attention_bias = true;
    s.tie_word_embeddings = true;
    s.num_layers = 1;
    fs::path dir = write(s, std::string(model_arch_name(arch)));
    expect_model_matches(dir, s);
    json cfg = read_json(dir / "config.json");
    EXPECT_EQ(cfg[arch == ModelArch::kInternLM2 ? "bias" : "attention_bias"], true);
    EXPECT_EQ(cfg["tie_word_embeddings"], true);
    EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  }
  MakeModelSpec m = tiny(ModelArch::kMistral, DType::kF16);
  m.sliding_window = 1024;
  m.eos_token_ids = {2, 7};
  m.bos_token_id.reset();
  fs::path dir = write(m, "mistral");
  expect_model_matches(dir, m);
  json cfg = read_json(dir / "config.json");
  EXPECT_EQ(cfg["sliding_window"], 1024);
  EXPECT_EQ(cfg["eos_token_id"], json::array({2, 7}));
  EXPECT_TRUE(cfg["bos_token_id"].is_null());
  EXPECT_EQ(cfg["torch_dtype"], "float16");
  json gen = read_json(dir / "generation_config.json");
  EXPECT_EQ(gen["eos_token_id"], json::array({2, 7}));
  EXPECT_FALSE(gen.contains("bos_token_id"));
}

TEST_F(MakeModelTest, RopeScalingConfig) {
  MakeModelSpec l = tiny(ModelArch::kLlama);
  l.rope_scaling = RopeScaling{RopeScalingType::kLlama3, 32.0, 1.0, 4.0, 8192};
  json cfg = read_json(write(l, "llama") / "config.json");
  EXPECT_EQ(cfg["rope_scaling"], json({{"rope_type", "llama3"}, {"factor", 32.0},
                                       {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                                       {"original_max_position_embeddings", 8192}}));
  MakeModelSpec q = tiny(ModelArch::kQwen2);
  q.rope_scaling = RopeScaling{RopeScalingType::kLinear, 2.0};
  cfg = read_json(write(q, "qwen2") / "config.json");
  EXPECT_EQ(cfg["rope_scaling"], json({{"rope_type", "linear"}, {"factor", 2.0}}));
  MakeModelSpec i = tiny(ModelArch::kInternLM2);
  i.rope_scaling = RopeScaling{RopeScalingType::kDynamic, 2.5};
  cfg = read_json(write(i, "internlm2") / "config.json");
  EXPECT_EQ(cfg["rope_scaling"], json({{"type", "dynamic"}, {"factor", 2.5}}));
}

TEST_F(MakeModelTest, SameSeedSameBytesOtherSeedOtherBytes) {
  MakeModelSpec s = tiny(ModelArch::kQwen3, DType::kBF16);
  s.seed = 42;
  fs::path a = write(s, "a"), b = write(s, "b");
  for (const char* f : {"model.safetensors", "config.json", "generation_config.json"}) {
    EXPECT_EQ(read(a / f), read(b / f)) << f;
  }
  s.seed = 43;
  fs::path c = write(s, "c");
  EXPECT_NE(read(a / "model.safetensors"), read(c / "model.safetensors"));
  EXPECT_EQ(read(a / "config.json"), read(c / "config.json"));
}

// Pins the generator: any change to it (or a platform difference) shows here.
TEST_F(MakeModelTest, GeneratorIsPinned) {
  MakeModelSpec s = tiny(ModelArch::kLlama);
  s.seed = 7;
  auto model = SafetensorsModel::open(write(s, "m").string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  auto bits = [&](std::string_view name) {
    std::vector<uint32_t> out;
    auto t = model->tensor(name);
    for (float v : values(*t)) {
      out.push_back(std::bit_cast<uint32_t>(v));
      if (out.size() == 3) break;
    }
    return out;
  };
  EXPECT_EQ(bits("model.norm.weight"),  // 1.0689, 0.9416, 0.8989
            (std::vector<uint32_t>{0x3f88d0b0, 0x3f710992, 0x3f661fc6}));
  EXPECT_EQ(bits("model.layers.1.mlp.down_proj.weight"),  // 0.0363, 0.0560, -0.0289
            (std::vector<uint32_t>{0x3d14bfc5, 0x3d657f03, 0xbcecdf92}));
}

TEST_F(MakeModelTest, DtypesHoldTheSameNumbersRounded) {
  MakeModelSpec s = tiny(ModelArch::kQwen2);
  s.num_layers = 1;
  auto f32 = SafetensorsModel::open(write(s, "f32").string());
  s.dtype = DType::kBF16;
  auto bf16 = SafetensorsModel::open(write(s, "bf16").string());
  s.dtype = DType::kF16;
  auto f16 = SafetensorsModel::open(write(s, "f16").string());
  ASSERT_TRUE(f32.ok() && bf16.ok() && f16.ok());
  for (std::string_view name : f32->tensor_names()) {
    const std::vector<float> x = values(*f32->tensor(name));
    const std::vector<float> b = values(*bf16->tensor(name));
    const auto* h = static_cast<const uint16_t*>(f16->tensor(name)->data);
    for (size_t i = 0; i < x.size(); ++i) {
      const uint32_t xb = std::bit_cast<uint32_t>(x[i]);
      const uint32_t rne = (xb + 0x7FFF + ((xb >> 16) & 1)) & 0xFFFF0000u;
      ASSERT_EQ(std::bit_cast<uint32_t>(b[i]), rne) << name << "[" << i << "]";
      uint16_t hv;
      std::memcpy(&hv, h + i, 2);
      // Nearest f16: no neighbour is closer.
      const double d = std::fabs(double(f16_to_f32(hv)) - x[i]);
      ASSERT_LE(d, std::fabs(double(f16_to_f32(uint16_t(hv + 1))) - x[i])) << name << i;
      if ((hv & 0x7FFF) != 0) {
        ASSERT_LE(d, std::fabs(double(f16_to_f32(uint16_t(hv - 1))) - x[i])) << name << i;
      }
    }
  }
}

TEST_F(MakeModelTest, WeightStatisticsFollowTheDocumentedInit) {
  MakeModelSpec s = tiny(ModelArch::kQwen2);
  s.num_layers = 1;
  auto m = SafetensorsModel::open(write(s, "m").string());
  ASSERT_TRUE(m.ok());
  auto check = [&](std::string_view name, double mean, double std_dev) {
    Stats st = stats(values(*m->tensor(name)));
    EXPECT_NEAR(st.mean, mean, 0.3 * std_dev) << name;
    EXPECT_NEAR(st.std, std_dev, 0.15 * std_dev) << name;
  };
  check("model.embed_tokens.weight", 0, 2.0 / 8);
  check("lm_head.weight", 0, 2.0 / 8);
  check("model.layers.0.self_attn.q_proj.weight", 0, 1.0 / 8);
  check("model.layers.0.mlp.down_proj.weight", 0, 1.0 / std::sqrt(128.0));
  check("model.layers.0.self_attn.q_proj.bias", 0, 0.02);
  check("model.layers.0.input_layernorm.weight", 1, 0.1);
  s.weight_std = 0.05;
  s.embedding_std = 0.5;
  m = SafetensorsModel::open(write(s, "fixed").string());
  check("model.layers.0.mlp.down_proj.weight", 0, 0.05);
  check("model.embed_tokens.weight", 0, 0.5);
}

// The streamed writer lays files out exactly as serialize_safetensors.
TEST_F(MakeModelTest, FilesAreWhatSerializeSafetensorsWrites) {
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    MakeModelSpec s = tiny(ModelArch::kQwen3, dtype);
    s.head_dim = 6;  // odd byte sizes: the 8-byte alignment gaps show
    s.num_heads = 2;
    s.num_kv_heads = 1;
    fs::path dir = write(s, std::string(dtype_name(dtype)));
    const std::string bytes = read(dir / "model.safetensors");
    auto file = SafetensorsFile::open((dir / "model.safetensors").string());
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    std::vector<TensorView> views;
    for (std::string_view n : file->tensor_names()) views.push_back(*file->tensor(n));
    std::sort(views.begin(), views.end(),
              [](const TensorView& a, const TensorView& b) { return a.data < b.data; });
    std::vector<TensorToWrite> tensors;
    for (const TensorView& v : views) {
      tensors.push_back({std::string(v.name), v.dtype, shape_of(v),
                         {static_cast<const std::byte*>(v.data), v.bytes}});
    }
    auto expected = serialize_safetensors(tensors, {{"format", "pt"}});
    ASSERT_TRUE(expected.ok()) << expected.status().to_string();
    EXPECT_TRUE(*expected == bytes) << dtype_name(dtype);
  }
}

TEST_F(MakeModelTest, ShardsWithIndexWhenOverShardSize) {
  MakeModelSpec s = tiny(ModelArch::kLlama);
  s.shard_size_bytes = 200'000;  // the tiny model is ~1.1 MB in f32
  fs::path dir = write(s, "sharded");
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  json index = read_json(dir / "model.safetensors.index.json");
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : index["weight_map"].items()) shards.insert(shard);
  ASSERT_GT(shards.size(), 2u);
  const size_t n = shards.size();
  uint64_t total = 0;
  size_t k = 1;
  for (const std::string& shard : shards) {
    char want[64];
    std::snprintf(want, sizeof(want), "model-%05zu-of-%05zu.safetensors", k++, n);
    EXPECT_EQ(shard, want);
    auto f = SafetensorsFile::open((dir / shard).string());
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    total += f->data_bytes();
    // Over the limit only when one tensor alone is (the 128 KiB embedding fits).
    EXPECT_TRUE(f->data_bytes() <= s.shard_size_bytes || f->num_tensors() == 1) << shard;
  }
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
  expect_model_matches(dir, s);

  // Same values as the single-file model of the same seed.
  s.shard_size_bytes = uint64_t{1} << 30;
  auto single = SafetensorsModel::open(write(s, "single").string());
  auto sharded = SafetensorsModel::open(dir.string());
  ASSERT_TRUE(single.ok() && sharded.ok());
  EXPECT_EQ(single->files().size(), 1u);
  for (std::string_view name : single->tensor_names()) {
    auto a = single->tensor(name), b = sharded->tensor(name);
    ASSERT_EQ(a->bytes, b->bytes);
    EXPECT_EQ(std::memcmp(a->data, b->data, a->bytes), 0) << name;
  }
}

TEST_F(MakeModelTest, OutputFolderRules) {
  MakeModelSpec s = tiny(ModelArch::kLlama);
  s.shard_size_bytes = 200'000;
  fs::path dir = write(s, "out");
  std::ofstream(dir / "README.md") << "mine";
  Status again = write_random_model(s, dir.string());
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.to_string();
  EXPECT_NE(again.message().find("not empty"), std::string_view::npos);

  // Overwriting with a single-file model drops the old shards and index.
  s.shard_size_bytes = uint64_t{1} << 30;
  WriteModelOptions overwrite;
  overwrite.overwrite = true;
  write(s, "out", overwrite);
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model-00001-of-00007.safetensors"));
  EXPECT_EQ(read(dir / "README.md"), "mine");
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos);
  }

  std::ofstream(root_ / "file") << "x";
  EXPECT_EQ(write_random_model(s, (root_ / "file").string()).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(write_random_model(s, (root_ / "file" / "sub").string()).code(), StatusCode::kUnavailable);

  // Invalid specs are refused before anything is written.
  s.num_heads = 3;
  EXPECT_EQ(write_random_model(s, (root_ / "bad").string()).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(root_ / "bad"));
}

TEST_F(MakeModelTest, CopiesTokenizerFiles) {
  fs::path tok = root_ / "tok";
  fs::create_directories(tok);
  std::ofstream(tok / "tokenizer.json") << R"({"model": {}})";
  std::ofstream(tok / "tokenizer_config.json") << R"({"bos_token": "<s>"})";
  std::ofstream(tok / "special_tokens_map.json") << "{}";
  std::ofstream(tok / "vocab.txt") << "not copied";
  MakeModelSpec s = tiny(ModelArch::kLlama);
  s.num_layers = 1;
  WriteModelOptions o;
  o.tokenizer_path = tok.string();
  fs::path dir = write(s, "folder", o);
  EXPECT_EQ(read(dir / "tokenizer.json"), R"({"model": {}})");
  EXPECT_EQ(read(dir / "tokenizer_config.json"), R"({"bos_token": "<s>"})");
  EXPECT_TRUE(fs::exists(dir / "special_tokens_map.json"));
  EXPECT_FALSE(fs::exists(dir / "tokenizer.model"));
  EXPECT_FALSE(fs::exists(dir / "vocab.txt"));

  // A file path: copied under its canonical name.
  std::ofstream(root_ / "sp.model") << "spm";
  o.tokenizer_path = (root_ / "sp.model").string();
  dir = write(s, "file", o);
  EXPECT_EQ(read(dir / "tokenizer.model"), "spm");
  EXPECT_FALSE(fs::exists(dir / "tokenizer.json"));

  // The output folder as its own tokenizer source, overwritten: kept.
  o.tokenizer_path = (root_ / "folder").string();
  o.overwrite = true;
  dir = write(s, "folder", o);
  EXPECT_EQ(read(dir / "tokenizer.json"), R"({"model": {}})");

  o.tokenizer_path = (root_ / "absent").string();
  EXPECT_EQ(write_random_model(s, (root_ / "x").string(), o).code(), StatusCode::kNotFound);
  fs::create_directories(root_ / "empty");
  o.tokenizer_path = (root_ / "empty").string();
  EXPECT_EQ(write_random_model(s, (root_ / "y").string(), o).code(), StatusCode::kNotFound);
}

TEST(MakeModelSpecTest, ValidateNamesTheField) {
  struct Case {
    std::function<void(MakeModelSpec&)> mutate;
    std::string_view needle;
  };
  const std::vector<Case> cases = {
      {[](MakeModelSpec& s) { s.num_layers = 0; }, "--layers"},
      {[](MakeModelSpec& s) { s.hidden_size = -1; }, "--hidden"},
      {[](MakeModelSpec& s) { s.num_heads = 0; }, "--heads"},
      {[](MakeModelSpec& s) { s.num_kv_heads = 3; }, "multiple of --kv-heads"},
      {[](MakeModelSpec& s) { s.head_dim = 15; }, "must be even"},
      {[](MakeModelSpec& s) { s.intermediate_size = 0; }, "--intermediate"},
      {[](MakeModelSpec& s) { s.vocab_size = 0; }, "--vocab"},
      {[](MakeModelSpec& s) { s.max_position_embeddings = 0; }, "--max-positions"},
      {[](MakeModelSpec& s) { s.num_layers = 100000; }, "absurd"},
      {[](MakeModelSpec& s) { s.hidden_size = 1 << 20, s.vocab_size = 1 << 20; }, "100 B"},
      {[](MakeModelSpec& s) { s.hidden_size = int64_t{1} << 40; }, "100 B"},
      {[](MakeModelSpec& s) { s.rope_theta = 0; }, "--rope-theta"},
      {[](MakeModelSpec& s) { s.rms_norm_eps = NAN; }, "--rms-norm-eps"},
      {[](MakeModelSpec& s) { s.rope_scaling = RopeScaling{RopeScalingType::kLinear, 0.5}; },
       "--rope-scaling-factor"},
      {[](MakeModelSpec& s) {
         s.rope_scaling = RopeScaling{RopeScalingType::kLlama3, 8.0, 4.0, 1.0, 8192};
       }, "--rope-low-freq-factor"},
      {[](MakeModelSpec& s) { s.sliding_window = 128; }, "--sliding-window"},
      {[](MakeModelSpec& s) { s.bos_token_id = 512; }, "--bos-id"},
      {[](MakeModelSpec& s) { s.eos_token_ids = {1, -1}; }, "--eos-id"},
      {[](MakeModelSpec& s) { s.eos_token_ids.clear(); }, "--eos-id"},
      {[](MakeModelSpec& s) { s.dtype = DType::kI8; }, "--dtype"},
      {[](MakeModelSpec& s) { s.weight_std = -1; }, "--weight-std"},
      {[](MakeModelSpec& s) { s.embedding_std = INFINITY; }, "--embedding-std"},
      {[](MakeModelSpec& s) { s.shard_size_bytes = 0; }, "--shard-size"},
  };
  ASSERT_TRUE(validate(MakeModelSpec{}).ok());
  for (const Case& c : cases) {
    MakeModelSpec s;
    c.mutate(s);
    Status st = validate(s);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.needle;
    EXPECT_NE(st.message().find(c.needle), std::string_view::npos)
        << "'" << c.needle << "' not in: " << st.message();
  }
  MakeModelSpec q;
  q.arch = ModelArch::kQwen2;
  q.head_dim = 32;  // 4 x 32 != 64
  EXPECT_NE(validate(q).message().find("derives head_dim"), std::string_view::npos);
  q.head_dim = 16;
  q.attention_bias = true;
  EXPECT_NE(validate(q).message().find("always has q/k/v biases"), std::string_view::npos);
  q.arch = ModelArch::kQwen3;
  q.head_dim = 32;  // fine: qwen3 has an explicit head_dim
  EXPECT_TRUE(validate(q).ok()) << validate(q).to_string();
  q.rope_scaling = RopeScaling{RopeScalingType::kLlama3, 8.0};
  EXPECT_NE(validate(q).message().find("llama3 rope scaling is for --arch llama"),
            std::string_view::npos);
  MakeModelSpec m;
  m.arch = ModelArch::kMistral;
  m.sliding_window = 4096;
  EXPECT_TRUE(validate(m).ok());
  m.attention_bias = true;
  EXPECT_EQ(validate(m).code(), StatusCode::kInvalidArgument);
}

TEST(MakeModelSpecTest, PresetsMatchTheRealModels) {
  auto qwen = preset_spec(ModelArch::kQwen2, "qwen2.5-0.5b");
  ASSERT_TRUE(qwen.ok());
  EXPECT_EQ(parameter_count(*qwen), 494'032'768u);  // Qwen2.5-0.5B, tied
  EXPECT_TRUE(validate(*qwen).ok()) << validate(*qwen).to_string();
  EXPECT_EQ(qwen->hidden_size, 896);
  EXPECT_EQ(qwen->rms_norm_eps, 1e-6);
  EXPECT_EQ(qwen->max_position_embeddings, 32768);

  auto llama = preset_spec(ModelArch::kLlama, "llama-3.2-1b");
  ASSERT_TRUE(llama.ok());
  EXPECT_EQ(parameter_count(*llama), 1'235'814'400u);  // Llama-3.2-1B, tied
  EXPECT_TRUE(validate(*llama).ok()) << validate(*llama).to_string();
  ASSERT_TRUE(llama->rope_scaling.has_value());
  EXPECT_EQ(llama->rope_scaling->type, RopeScalingType::kLlama3);
  EXPECT_EQ(llama->rope_scaling->factor, 32.0);
  EXPECT_EQ(llama->rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(llama->rope_theta, 500000.0);
  EXPECT_EQ(llama->max_position_embeddings, 131072);
  llama->tie_word_embeddings = false;
  EXPECT_EQ(parameter_count(*llama), 1'235'814'400u + 128256u * 2048u);

  auto qwen3 = preset_spec(ModelArch::kQwen3, "qwen3-0.6b");
  ASSERT_TRUE(qwen3.ok());
  EXPECT_EQ(parameter_count(*qwen3), 596'049'920u);  // Qwen3-0.6B, tied
  EXPECT_EQ(qwen3->head_dim, 128);
  EXPECT_TRUE(validate(*qwen3).ok());

  // parameter_count agrees with the tensor list.
  for (const auto& spec : {*qwen, *qwen3}) {
    uint64_t n = 0;
    for (const TensorSpec& t : tensor_specs(spec)) {
      uint64_t e = 1;
      for (int64_t d : t.shape) e *= uint64_t(d);
      n += e;
    }
    EXPECT_EQ(n, parameter_count(spec));
  }

  auto tiny = preset_spec(ModelArch::kInternLM2, "tiny");
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->hidden_size, 64);
  EXPECT_EQ(tiny->num_layers, 2);
  EXPECT_EQ(tiny->num_heads, 4);
  EXPECT_EQ(tiny->num_kv_heads, 2);
  EXPECT_EQ(tiny->intermediate_size, 128);
  EXPECT_EQ(tiny->vocab_size, 512);
  EXPECT_EQ(tiny->max_position_embeddings, 2048);

  auto bad = preset_spec(ModelArch::kLlama, "gpt-5");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("tiny, qwen2.5-0.5b, llama-3.2-1b, qwen3-0.6b"),
            std::string_view::npos);
  EXPECT_EQ(preset_arch("llama-3.2-1b"), ModelArch::kLlama);
  EXPECT_EQ(preset_arch("qwen2.5-0.5b"), ModelArch::kQwen2);
  EXPECT_EQ(preset_arch("tiny"), std::nullopt);
}

TEST(MakeModelSpecTest, NamesParse) {
  for (const ArchCase& c : kArchCases) {
    EXPECT_EQ(*parse_model_arch(model_arch_name(c.arch)), c.arch);
  }
  auto bad = parse_model_arch("gpt2");
  EXPECT_NE(bad.status().message().find("llama, mistral, qwen2, qwen3, internlm2"),
            std::string_view::npos);
  EXPECT_EQ(*parse_rope_scaling_type("llama3"), RopeScalingType::kLlama3);
  EXPECT_EQ(*parse_rope_scaling_type("dynamic"), RopeScalingType::kDynamic);
  EXPECT_FALSE(parse_rope_scaling_type("yarn").ok());
}

}  // namespace
}  // namespace keel::model
