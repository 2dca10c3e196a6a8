// make_model: specs, presets, validation, tensor lists and config.json per
// architecture. The weights and files are written by make_model_writer.cc.
#include "keel/model/make_model.h"

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

namespace keel::model {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxParameters = 100'000'000'000;
constexpr int64_t kMaxLayers = 10'000;

struct ArchInfo {
  ModelArch arch;
  std::string_view name;
  std::string_view hf_class;
};
constexpr std::array<ArchInfo, 5> kArchs = {{
    {ModelArch::kLlama, "llama", "LlamaForCausalLM"},
    {ModelArch::kMistral, "mistral", "MistralForCausalLM"},
    {ModelArch::kQwen2, "qwen2", "Qwen2ForCausalLM"},
    {ModelArch::kQwen3, "qwen3", "Qwen3ForCausalLM"},
    {ModelArch::kInternLM2, "internlm2", "InternLM2ForCausalLM"},
}};

const ArchInfo& arch_info(ModelArch arch) {
  for (const ArchInfo& a : kArchs) {
    if (a.arch == arch) return a;
  }
  return kArchs[0];  // unreachable: every enumerator is listed
}

constexpr std::array<std::string_view, 4> kPresets = {"tiny", "qwen2.5-0.5b", "llama-3.2-1b",
                                                      "qwen3-0.6b"};

// a * b and a + b, saturating at UINT64_MAX.
uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t u(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

// Per-layer attention projections, in HF module order (out_features, in_features).
struct Proj {
  std::string name;
  int64_t out, in;
  bool bias;
};
std::vector<Proj> attention_projections(const MakeModelSpec& s) {
  const int64_t q = s.num_heads * s.head_dim, kv = s.num_kv_heads * s.head_dim;
  const int64_t h = s.hidden_size;
  switch (s.arch) {
    case ModelArch::kInternLM2:
      return {{"attention.wqkv", q + 2 * kv, h, s.attention_bias},
              {"attention.wo", h, q, s.attention_bias}};
    case ModelArch::kQwen2:
      return {{"self_attn.q_proj", q, h, true}, {"self_attn.k_proj", kv, h, true},
              {"self_attn.v_proj", kv, h, true}, {"self_attn.o_proj", h, q, false}};
    default:
      return {{"self_attn.q_proj", q, h, s.attention_bias},
              {"self_attn.k_proj", kv, h, s.attention_bias},
              {"self_attn.v_proj", kv, h, s.attention_bias},
              {"self_attn.o_proj", h, q, s.attention_bias}};
  }
}

json rope_scaling_json(const MakeModelSpec& s) {
  if (!s.rope_scaling) return nullptr;
  const RopeScaling& r = *s.rope_scaling;
  // InternLM2's remote code reads {"type", "factor"}; transformers' own
  // models read "rope_type" (Llama 3.x configs carry only that).
  json j = {{s.arch == ModelArch::kInternLM2 ? "type" : "rope_type", rope_scaling_type_name(r.type)},
            {"factor", r.factor}};
  if (r.type == RopeScalingType::kLlama3) {
    j["low_freq_factor"] = r.low_freq_factor;
    j["high_freq_factor"] = r.high_freq_factor;
    j["original_max_position_embeddings"] = r.original_max_position_embeddings;
  }
  return j;
}

json eos_json(const MakeModelSpec& s) {
  if (s.eos_token_ids.size() == 1) return s.eos_token_ids[0];
  return s.eos_token_ids;
}

std::string_view torch_dtype(DType d) {
  switch (d) {
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
    default: return "float32";
  }
}

}  // namespace

Result<ModelArch> parse_model_arch(std::string_view name) {
  for (const ArchInfo& a : kArchs) {
    if (a.name == name) return a.arch;
  }
  return InvalidArgumentError("unknown architecture '{}'; known: llama, mistral, qwen2, qwen3, "
                              "internlm2", name);
}

std::string_view model_arch_name(ModelArch arch) { return arch_info(arch).name; }

Result<RopeScalingType> parse_rope_scaling_type(std::string_view name) {
  if (name == "llama3") return RopeScalingType::kLlama3;
  if (name == "linear") return RopeScalingType::kLinear;
  if (name == "dynamic") return RopeScalingType::kDynamic;
  return InvalidArgumentError("unknown rope scaling type '{}'; known: llama3, linear, dynamic",
                              name);
}

std::string_view rope_scaling_type_name(RopeScalingType type) {
  switch (type) {
    case RopeScalingType::kLlama3: return "llama3";
    case RopeScalingType::kLinear: return "linear";
    case RopeScalingType::kDynamic: return "dynamic";
  }
  return "linear";
}

std::vector<std::string_view> preset_names() { return {kPresets.begin(), kPresets.end()}; }

std::optional<ModelArch> preset_arch(std::string_view preset) {
  if (preset == "qwen2.5-0.5b") return ModelArch::kQwen2;
  if (preset == "llama-3.2-1b") return ModelArch::kLlama;
  if (preset == "qwen3-0.6b") return ModelArch::kQwen3;
  return std::nullopt;
}

Result<MakeModelSpec> preset_spec(ModelArch arch, std::string_view preset) {
  MakeModelSpec s;  // the defaults are the tiny preset
  s.arch = arch;
  if (preset == "tiny") return s;
  if (preset == "qwen2.5-0.5b") {  // Qwen/Qwen2.5-0.5B config.json
    s.num_layers = 24, s.hidden_size = 896, s.num_heads = 14, s.num_kv_heads = 2, s.head_dim = 64;
    s.intermediate_size = 4864, s.vocab_size = 151936, s.max_position_embeddings = 32768;
    s.rope_theta = 1000000.0, s.rms_norm_eps = 1e-6, s.tie_word_embeddings = true;
    s.bos_token_id = 151643, s.eos_token_ids = {151643};
    return s;
  }
  if (preset == "llama-3.2-1b") {  // meta-llama/Llama-3.2-1B config.json
    s.num_layers = 16, s.hidden_size = 2048, s.num_heads = 32, s.num_kv_heads = 8, s.head_dim = 64;
    s.intermediate_size = 8192, s.vocab_size = 128256, s.max_position_embeddings = 131072;
    s.rope_theta = 500000.0, s.rms_norm_eps = 1e-5, s.tie_word_embeddings = true;
    s.rope_scaling = RopeScaling{RopeScalingType::kLlama3, 32.0, 1.0, 4.0, 8192};
    s.bos_token_id = 128000, s.eos_token_ids = {128001};
    return s;
  }
  if (preset == "qwen3-0.6b") {  // Qwen/Qwen3-0.6B config.json
    s.num_layers = 28, s.hidden_size = 1024, s.num_heads = 16, s.num_kv_heads = 8, s.head_dim = 128;
    s.intermediate_size = 3072, s.vocab_size = 151936, s.max_position_embeddings = 40960;
    s.rope_theta = 1000000.0, s.rms_norm_eps = 1e-6, s.tie_word_embeddings = true;
    s.bos_token_id = 151643, s.eos_token_ids = {151645};
    return s;
  }
  return InvalidArgumentError("unknown preset '{}'; known: tiny, qwen2.5-0.5b, llama-3.2-1b, "
                              "qwen3-0.6b", preset);
}

Status validate(const MakeModelSpec& s) {
  const std::string_view arch = model_arch_name(s.arch);
  auto positive = [](int64_t v, std::string_view flag) -> Status {
    if (v < 1) return InvalidArgumentError("{} must be at least 1, got {}", flag, v);
    return OkStatus();
  };
  KEEL_RETURN_IF_ERROR(positive(s.num_layers, "--layers"));
  KEEL_RETURN_IF_ERROR(positive(s.hidden_size, "--hidden"));
  KEEL_RETURN_IF_ERROR(positive(s.num_heads, "--heads"));
  KEEL_RETURN_IF_ERROR(positive(s.num_kv_heads, "--kv-heads"));
  KEEL_RETURN_IF_ERROR(positive(s.head_dim, "--head-dim"));
  KEEL_RETURN_IF_ERROR(positive(s.intermediate_size, "--intermediate"));
  KEEL_RETURN_IF_ERROR(positive(s.vocab_size, "--vocab"));
  KEEL_RETURN_IF_ERROR(positive(s.max_position_embeddings, "--max-positions"));
  if (s.num_layers > kMaxLayers) {
    return InvalidArgumentError("--layers {} is absurd (at most {})", s.num_layers, kMaxLayers);
  }
  if (s.num_heads % s.num_kv_heads != 0) {
    return InvalidArgumentError("--heads {} must be a multiple of --kv-heads {} (grouped-query "
                                "attention shares each KV head among heads/kv_heads heads)",
                                s.num_heads, s.num_kv_heads);
  }
  if (s.head_dim % 2 != 0) {
    return InvalidArgumentError("--head-dim {} must be even (RoPE rotates pairs)", s.head_dim);
  }
  const uint64_t params = parameter_count(s);
  if (params > kMaxParameters) {
    return InvalidArgumentError("these dimensions make {} parameters; more than 100 B is refused",
                                params == UINT64_MAX ? std::string("over 2^64")
                                                     : std::to_string(params));
  }
  if ((s.arch == ModelArch::kQwen2 || s.arch == ModelArch::kInternLM2) &&
      s.num_heads * s.head_dim != s.hidden_size) {
    return InvalidArgumentError("{} derives head_dim from hidden_size / num_heads: --heads {} x "
                                "--head-dim {} must equal --hidden {}", arch, s.num_heads,
                                s.head_dim, s.hidden_size);
  }
  if (!(s.rope_theta > 0) || !std::isfinite(s.rope_theta)) {
    return InvalidArgumentError("--rope-theta must be positive and finite, got {}", s.rope_theta);
  }
  if (!(s.rms_norm_eps > 0) || !std::isfinite(s.rms_norm_eps)) {
    return InvalidArgumentError("--rms-norm-eps must be positive and finite, got {}", s.rms_norm_eps);
  }
  if (s.rope_scaling) {
    const RopeScaling& r = *s.rope_scaling;
    if (!(r.factor >= 1) || !std::isfinite(r.factor)) {
      return InvalidArgumentError("--rope-scaling-factor must be finite and at least 1, got {}",
                                  r.factor);
    }
    if (r.type == RopeScalingType::kLlama3) {
      if (s.arch != ModelArch::kLlama) {
        return InvalidArgumentError("llama3 rope scaling is for --arch llama only, not {}", arch);
      }
      if (!(r.low_freq_factor > 0) || !(r.high_freq_factor > r.low_freq_factor) ||
          !std::isfinite(r.high_freq_factor)) {
        return InvalidArgumentError("llama3 rope scaling needs 0 < --rope-low-freq-factor < "
                                    "--rope-high-freq-factor, got {} and {}",
                                    r.low_freq_factor, r.high_freq_factor);
      }
      if (r.original_max_position_embeddings < 1) {
        return InvalidArgumentError("--rope-original-max-positions must be at least 1, got {}",
                                    r.original_max_position_embeddings);
      }
    }
  }
  if (s.attention_bias && (s.arch == ModelArch::kQwen2 || s.arch == ModelArch::kMistral)) {
    return InvalidArgumentError("--attention-bias does not apply to {} ({})", arch,
                                s.arch == ModelArch::kQwen2
                                    ? "it always has q/k/v biases and no o bias"
                                    : "it has no attention biases");
  }
  if (s.sliding_window) {
    if (s.arch != ModelArch::kMistral) {
      return InvalidArgumentError("--sliding-window is for --arch mistral only, not {}", arch);
    }
    KEEL_RETURN_IF_ERROR(positive(*s.sliding_window, "--sliding-window"));
  }
  auto check_id = [&](int64_t id, std::string_view flag) -> Status {
    if (id < 0 || id >= s.vocab_size) {
      return InvalidArgumentError("{} {} is outside the vocabulary [0, {})", flag, id, s.vocab_size);
    }
    return OkStatus();
  };
  if (s.bos_token_id) KEEL_RETURN_IF_ERROR(check_id(*s.bos_token_id, "--bos-id"));
  if (s.eos_token_ids.empty()) return InvalidArgumentError("--eos-id: at least one id is needed");
  for (int64_t id : s.eos_token_ids) KEEL_RETURN_IF_ERROR(check_id(id, "--eos-id"));
  if (s.dtype != DType::kF32 && s.dtype != DType::kF16 && s.dtype != DType::kBF16) {
    return InvalidArgumentError("--dtype must be f32, f16 or bf16, not {}", dtype_name(s.dtype));
  }
  if (!(s.weight_std >= 0) || !std::isfinite(s.weight_std)) {
    return InvalidArgumentError("--weight-std must be finite and >= 0, got {}", s.weight_std);
  }
  if (!(s.embedding_std >= 0) || !std::isfinite(s.embedding_std)) {
    return InvalidArgumentError("--embedding-std must be finite and >= 0, got {}", s.embedding_std);
  }
  if (s.shard_size_bytes == 0) return InvalidArgumentError("--shard-size must be at least 1 byte");
  return OkStatus();
}

uint64_t parameter_count(const MakeModelSpec& s) {
  const uint64_t h = u(s.hidden_size);
  uint64_t layer = 0;
  for (const Proj& p : attention_projections(s)) {
    layer = sat_add(layer, sat_mul(u(p.out), u(p.in)));
    if (p.bias) layer = sat_add(layer, u(p.out));
  }
  if (s.arch == ModelArch::kQwen3) layer = sat_add(layer, sat_mul(2, u(s.head_dim)));
  layer = sat_add(layer, sat_mul(3, sat_mul(u(s.intermediate_size), h)));  // gate, up, down
  layer = sat_add(layer, sat_mul(2, h));                                    // two norms
  const uint64_t embedding = sat_mul(u(s.vocab_size), h);
  uint64_t total = sat_add(sat_mul(u(s.num_layers), layer), sat_add(embedding, h));
  if (!s.tie_word_embeddings) total = sat_add(total, embedding);
  return total;
}

std::vector<TensorSpec> tensor_specs(const MakeModelSpec& s) {
  const bool internlm = s.arch == ModelArch::kInternLM2;
  const int64_t h = s.hidden_size, inter = s.intermediate_size;
  std::vector<TensorSpec> out;
  out.push_back({internlm ? "model.tok_embeddings.weight" : "model.embed_tokens.weight",
                 {s.vocab_size, h}});
  for (int64_t i = 0; i < s.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    for (const Proj& proj : attention_projections(s)) {
      out.push_back({p + proj.name + ".weight", {proj.out, proj.in}});
      if (proj.bias) out.push_back({p + proj.name + ".bias", {proj.out}});
    }
    if (s.arch == ModelArch::kQwen3) {
      out.push_back({p + "self_attn.q_norm.weight", {s.head_dim}});
      out.push_back({p + "self_attn.k_norm.weight", {s.head_dim}});
    }
    if (internlm) {
      out.push_back({p + "feed_forward.w1.weight", {inter, h}});  // gate
      out.push_back({p + "feed_forward.w3.weight", {inter, h}});  // up
      out.push_back({p + "feed_forward.w2.weight", {h, inter}});  // down
      out.push_back({p + "attention_norm.weight", {h}});
      out.push_back({p + "ffn_norm.weight", {h}});
    } else {
      out.push_back({p + "mlp.gate_proj.weight", {inter, h}});
      out.push_back({p + "mlp.up_proj.weight", {inter, h}});
      out.push_back({p + "mlp.down_proj.weight", {h, inter}});
      out.push_back({p + "input_layernorm.weight", {h}});
      out.push_back({p + "post_attention_layernorm.weight", {h}});
    }
  }
  out.push_back({"model.norm.weight", {h}});
  if (!s.tie_word_embeddings) {
    out.push_back({internlm ? "output.weight" : "lm_head.weight", {s.vocab_size, h}});
  }
  return out;
}

std::string hf_config_json(const MakeModelSpec& s) {
  const ArchInfo& a = arch_info(s.arch);
  // nlohmann::json sorts keys, as transformers' to_json_string does.
  json j = {
      {"architectures", {a.hf_class}},
      {"model_type", a.name},
      {"hidden_size", s.hidden_size},
      {"intermediate_size", s.intermediate_size},
      {"num_hidden_layers", s.num_layers},
      {"num_attention_heads", s.num_heads},
      {"num_key_value_heads", s.num_kv_heads},
      {"max_position_embeddings", s.max_position_embeddings},
      {"rms_norm_eps", s.rms_norm_eps},
      {"rope_theta", s.rope_theta},
      {"rope_scaling", rope_scaling_json(s)},
      {"tie_word_embeddings", s.tie_word_embeddings},
      {"hidden_act", "silu"},
      {"vocab_size", s.vocab_size},
      {"bos_token_id", s.bos_token_id ? json(*s.bos_token_id) : json(nullptr)},
      {"eos_token_id", eos_json(s)},
      {"torch_dtype", torch_dtype(s.dtype)},
      {"initializer_range", 0.02},
      {"use_cache", true},
  };
  switch (s.arch) {
    case ModelArch::kInternLM2:
      j["bias"] = s.attention_bias;
      j["attn_implementation"] = "eager";
      j["pretraining_tp"] = 1;
      j["auto_map"] = {{"AutoConfig", "configuration_internlm2.InternLM2Config"},
                       {"AutoModel", "modeling_internlm2.InternLM2ForCausalLM"},
                       {"AutoModelForCausalLM", "modeling_internlm2.InternLM2ForCausalLM"}};
      return j.dump(2) + "\n";
    case ModelArch::kQwen2:
      // As Qwen2.5's configs: a window equal to the context, switched off.
      j["use_sliding_window"] = false;
      j["sliding_window"] = s.max_position_embeddings;
      j["max_window_layers"] = s.num_layers;
      break;
    case ModelArch::kQwen3:
      j["attention_bias"] = s.attention_bias;
      j["use_sliding_window"] = false;
      j["sliding_window"] = nullptr;
      j["max_window_layers"] = s.num_layers;
      break;
    case ModelArch::kMistral:
      j["sliding_window"] = s.sliding_window ? json(*s.sliding_window) : json(nullptr);
      j["attention_bias"] = false;
      j["mlp_bias"] = false;
      break;
    case ModelArch::kLlama:
      j["attention_bias"] = s.attention_bias;
      j["mlp_bias"] = false;
      j["pretraining_tp"] = 1;
      break;
  }
  j["head_dim"] = s.head_dim;
  j["attention_dropout"] = 0.0;
  return j.dump(2) + "\n";
}

std::string generation_config_json(const MakeModelSpec& s) {
  json j = {{"_from_model_config", true}, {"eos_token_id", eos_json(s)}};
  if (s.bos_token_id) j["bos_token_id"] = *s.bos_token_id;
  return j.dump(2) + "\n";
}

}  // namespace keel::model
