#include "keel/model/config.h"

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/core/json_depth.h"

namespace keel::model {
namespace {

using Json = nlohmann::json;

struct ArchEntry {
  Architecture arch;
  std::string_view name;
  std::string_view model_type;
};

constexpr std::array<ArchEntry, 5> kArchs{{
    {Architecture::kLlama, "LlamaForCausalLM", "llama"},
    {Architecture::kMistral, "MistralForCausalLM", "mistral"},
    {Architecture::kQwen2, "Qwen2ForCausalLM", "qwen2"},
    {Architecture::kQwen3, "Qwen3ForCausalLM", "qwen3"},
    {Architecture::kInternLM2, "InternLM2ForCausalLM", "internlm2"},
}};

// Typed readers: each names the source and key in its error.
class Reader {
 public:
  Reader(const Json& j, std::string_view source) : j_(j), source_(source) {}

  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  Result<int64_t> integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      return InvalidArgumentError("{}: missing \"{}\" (an integer); is this a HuggingFace config.json?",
                                  source_, key);
    }
    const Json& v = j_[key];
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))) {
      return static_cast<int64_t>(v.get<double>());
    }
    return InvalidArgumentError("{}: \"{}\" must be an integer", source_, key);
  }

  Result<double> number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const Json& v = j_[key];
    if (!v.is_number()) return InvalidArgumentError("{}: \"{}\" must be a number", source_, key);
    return v.get<double>();
  }

  Result<bool> boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const Json& v = j_[key];
    if (!v.is_boolean()) return InvalidArgumentError("{}: \"{}\" must be true or false", source_, key);
    return v.get<bool>();
  }

  Result<std::string> string(const char* key, std::string fallback) const {
    if (!has(key)) return fallback;
    const Json& v = j_[key];
    if (!v.is_string()) return InvalidArgumentError("{}: \"{}\" must be a string", source_, key);
    return v.get<std::string>();
  }

  // An int, a list of ints, or absent/null (empty).
  Result<std::vector<int32_t>> id_list(const char* key) const {
    std::vector<int32_t> out;
    if (!has(key)) return out;
    const Json& v = j_[key];
    auto one = [&](const Json& e) -> Status {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > INT32_MAX) {
        return InvalidArgumentError("{}: \"{}\" must be a token id or a list of token ids",
                                    source_, key);
      }
      out.push_back(static_cast<int32_t>(e.get<int64_t>()));
      return OkStatus();
    };
    if (v.is_array()) {
      for (const Json& e : v) KEEL_RETURN_IF_ERROR(one(e));
    } else {
      KEEL_RETURN_IF_ERROR(one(v));
    }
    return out;
  }

  const Json& json() const { return j_; }
  std::string_view source() const { return source_; }

 private:
  const Json& j_;
  std::string_view source_;
};

Result<Json> parse_object(std::string_view text, std::string_view source) {
  KEEL_RETURN_IF_ERROR(check_json_depth(text, source));
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("{}: not valid JSON", source);
  if (!j.is_object()) return InvalidArgumentError("{}: expected a JSON object", source);
  return j;
}

Result<Architecture> read_architecture(const Reader& r) {
  std::string name;
  if (r.has("architectures")) {
    const Json& a = r.json()["architectures"];
    if (!a.is_array() || a.empty() || !a[0].is_string()) {
      return InvalidArgumentError("{}: \"architectures\" must be a non-empty list of class names",
                                  r.source());
    }
    name = a[0].get<std::string>();
    for (const ArchEntry& e : kArchs) {
      if (e.name == name) return e.arch;
    }
  } else {
    KEEL_ASSIGN_OR_RETURN(std::string type, r.string("model_type", ""));
    for (const ArchEntry& e : kArchs) {
      if (e.model_type == type) return e.arch;
    }
    name = type.empty() ? "(no \"architectures\" or \"model_type\")" : "model_type " + type;
  }
  return UnimplementedError("{}: architecture {} is not supported; keel supports {}", r.source(),
                            name, supported_architectures());
}

Status read_rope(const Reader& r, ModelConfig& c) {
  c.rope.head_dim = c.head_dim;
  KEEL_ASSIGN_OR_RETURN(c.rope.theta, r.number("rope_theta", 10000.0));
  c.rope.original_max_positions = c.max_position_embeddings;
  if (!r.has("rope_scaling")) return OkStatus();
  const Json& s = r.json()["rope_scaling"];
  if (!s.is_object()) {
    return InvalidArgumentError("{}: \"rope_scaling\" must be null or an object", r.source());
  }
  std::string source = fmt::format("{} rope_scaling", r.source());
  Reader rs(s, source);
  KEEL_ASSIGN_OR_RETURN(std::string type, rs.string("rope_type", ""));
  if (type.empty()) {
    KEEL_ASSIGN_OR_RETURN(type, rs.string("type", "default"));
  }
  KEEL_ASSIGN_OR_RETURN(c.rope.factor, rs.number("factor", 1.0));
  if (type == "default") {
    c.rope.scaling = backend::RopeScalingType::kNone;
  } else if (type == "linear") {
    c.rope.scaling = backend::RopeScalingType::kLinear;
  } else if (type == "dynamic") {
    c.rope.scaling = backend::RopeScalingType::kDynamicNtk;
  } else if (type == "llama3") {
    c.rope.scaling = backend::RopeScalingType::kLlama3;
    KEEL_ASSIGN_OR_RETURN(c.rope.low_freq_factor, rs.number("low_freq_factor", 1.0));
    KEEL_ASSIGN_OR_RETURN(c.rope.high_freq_factor, rs.number("high_freq_factor", 4.0));
    KEEL_ASSIGN_OR_RETURN(c.rope.original_max_positions,
                          rs.integer("original_max_position_embeddings", 8192));
  } else {
    return UnimplementedError(
        "{}: rope_scaling type \"{}\" is not supported; keel supports default, linear, dynamic "
        "and llama3",
        r.source(), type);
  }
  if (!(c.rope.factor > 0)) {
    return InvalidArgumentError("{}: rope_scaling factor must be > 0", r.source());
  }
  return OkStatus();
}

Status read_biases_and_window(const Reader& r, ModelConfig& c) {
  switch (c.arch) {
    case Architecture::kLlama:
    case Architecture::kMistral:
    case Architecture::kQwen3: {
      KEEL_ASSIGN_OR_RETURN(bool attention_bias, r.boolean("attention_bias", false));
      c.qkv_bias = c.o_bias = attention_bias;
      KEEL_ASSIGN_OR_RETURN(c.mlp_bias, r.boolean("mlp_bias", false));
      c.qk_norm = c.arch == Architecture::kQwen3;
      break;
    }
    case Architecture::kQwen2:
      c.qkv_bias = true;
      break;
    case Architecture::kInternLM2: {
      KEEL_ASSIGN_OR_RETURN(bool bias, r.boolean("bias", false));
      c.qkv_bias = c.o_bias = bias;
      break;
    }
  }
  if (c.arch == Architecture::kMistral && r.has("sliding_window")) {
    KEEL_ASSIGN_OR_RETURN(int64_t w, r.integer("sliding_window"));
    c.sliding_window = w;
  }
  if ((c.arch == Architecture::kQwen2 || c.arch == Architecture::kQwen3)) {
    KEEL_ASSIGN_OR_RETURN(bool use, r.boolean("use_sliding_window", false));
    if (use && r.has("sliding_window")) {
      KEEL_ASSIGN_OR_RETURN(int64_t w, r.integer("sliding_window"));
      c.sliding_window = w;
    }
  }
  return OkStatus();
}

}  // namespace

std::string_view architecture_name(Architecture arch) {
  for (const ArchEntry& e : kArchs) {
    if (e.arch == arch) return e.name;
  }
  return "unknown";
}

std::string supported_architectures() {
  std::string out;
  for (const ArchEntry& e : kArchs) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

Status ModelConfig::validate() const {
  auto positive = [](int64_t v, const char* what) -> Status {
    if (v <= 0) return InvalidArgumentError("config: {} must be positive, got {}", what, v);
    return OkStatus();
  };
  KEEL_RETURN_IF_ERROR(positive(vocab_size, "vocab_size"));
  KEEL_RETURN_IF_ERROR(positive(hidden_size, "hidden_size"));
  KEEL_RETURN_IF_ERROR(positive(intermediate_size, "intermediate_size"));
  KEEL_RETURN_IF_ERROR(positive(num_layers, "num_hidden_layers"));
  KEEL_RETURN_IF_ERROR(positive(num_heads, "num_attention_heads"));
  KEEL_RETURN_IF_ERROR(positive(num_kv_heads, "num_key_value_heads"));
  KEEL_RETURN_IF_ERROR(positive(head_dim, "head_dim"));
  KEEL_RETURN_IF_ERROR(positive(max_position_embeddings, "max_position_embeddings"));
  // Guards against garbage that would overflow size computations.
  if (vocab_size > (int64_t{1} << 24) || hidden_size > (int64_t{1} << 17) ||
      intermediate_size > (int64_t{1} << 19) || num_layers > 1024 || num_heads > 1024 ||
      head_dim > 1024 || max_position_embeddings > (int64_t{1} << 24)) {
    return InvalidArgumentError(
        "config: dimensions out of range (vocab {}, hidden {}, intermediate {}, layers {}, heads "
        "{}, head_dim {}, positions {})",
        vocab_size, hidden_size, intermediate_size, num_layers, num_heads, head_dim,
        max_position_embeddings);
  }
  if (num_heads % num_kv_heads != 0) {
    return InvalidArgumentError(
        "config: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
        num_heads, num_kv_heads);
  }
  if (head_dim % 2 != 0) {
    return InvalidArgumentError("config: head_dim must be even for RoPE, got {}", head_dim);
  }
  if (!(rms_norm_eps >= 0)) return InvalidArgumentError("config: rms_norm_eps must be >= 0");
  if (sliding_window && *sliding_window <= 0) {
    return InvalidArgumentError("config: sliding_window must be positive, got {}", *sliding_window);
  }
  return OkStatus();
}

std::string ModelConfig::summary() const {
  return fmt::format(
      "{}: {} layers, hidden {}, {} heads / {} KV heads x {}, intermediate {}, vocab {}, context "
      "{}{}{}",
      architecture_name(arch), num_layers, hidden_size, num_heads, num_kv_heads, head_dim,
      intermediate_size, vocab_size, max_context_tokens, tie_word_embeddings ? ", tied" : "",
      qk_norm ? ", q/k norm" : "");
}

Result<ModelConfig> parse_model_config(std::string_view json_text, std::string_view source) {
  KEEL_ASSIGN_OR_RETURN(Json j, parse_object(json_text, source));
  Reader r(j, source);
  ModelConfig c;
  KEEL_ASSIGN_OR_RETURN(c.arch, read_architecture(r));
  KEEL_ASSIGN_OR_RETURN(c.model_type, r.string("model_type", ""));
  KEEL_ASSIGN_OR_RETURN(c.vocab_size, r.integer("vocab_size"));
  KEEL_ASSIGN_OR_RETURN(c.hidden_size, r.integer("hidden_size"));
  KEEL_ASSIGN_OR_RETURN(c.intermediate_size, r.integer("intermediate_size"));
  KEEL_ASSIGN_OR_RETURN(int64_t layers, r.integer("num_hidden_layers"));
  KEEL_ASSIGN_OR_RETURN(int64_t heads, r.integer("num_attention_heads"));
  KEEL_ASSIGN_OR_RETURN(int64_t kv_heads, r.integer("num_key_value_heads", heads));
  if (layers > 1024 || heads > 1024 || kv_heads > 1024 || layers < 0 || heads <= 0 ||
      kv_heads < 0) {
    return InvalidArgumentError("{}: layers/heads out of range ({}, {}, {})", source, layers, heads,
                                kv_heads);
  }
  c.num_layers = static_cast<int>(layers);
  c.num_heads = static_cast<int>(heads);
  c.num_kv_heads = static_cast<int>(kv_heads);
  KEEL_ASSIGN_OR_RETURN(int64_t head_dim, r.integer("head_dim", c.hidden_size / c.num_heads));
  if (head_dim <= 0 || head_dim > 1024) {
    return InvalidArgumentError("{}: head_dim {} out of range", source, head_dim);
  }
  c.head_dim = static_cast<int>(head_dim);
  KEEL_ASSIGN_OR_RETURN(double eps, r.number("rms_norm_eps", 1e-6));
  c.rms_norm_eps = static_cast<float>(eps);
  KEEL_ASSIGN_OR_RETURN(c.max_position_embeddings, r.integer("max_position_embeddings"));
  KEEL_ASSIGN_OR_RETURN(c.tie_word_embeddings, r.boolean("tie_word_embeddings", false));
  KEEL_ASSIGN_OR_RETURN(std::string act, r.string("hidden_act", "silu"));
  if (act != "silu" && act != "swish") {
    return UnimplementedError("{}: hidden_act \"{}\" is not supported (keel implements silu)",
                              source, act);
  }
  KEEL_ASSIGN_OR_RETURN(c.torch_dtype, r.string("torch_dtype", ""));
  KEEL_ASSIGN_OR_RETURN(c.eos_token_ids, r.id_list("eos_token_id"));
  KEEL_ASSIGN_OR_RETURN(std::vector<int32_t> bos, r.id_list("bos_token_id"));
  if (!bos.empty()) c.bos_token_id = bos.front();
  KEEL_RETURN_IF_ERROR(read_rope(r, c));
  KEEL_RETURN_IF_ERROR(read_biases_and_window(r, c));
  c.max_context_tokens = c.max_position_embeddings;
  if (c.sliding_window && *c.sliding_window > 0 && *c.sliding_window < c.max_context_tokens) {
    c.max_context_tokens = *c.sliding_window;
  }
  KEEL_RETURN_IF_ERROR(c.validate().with_context(source));
  return c;
}

Result<GenerationConfig> parse_generation_config(std::string_view json_text,
                                                 std::string_view source) {
  KEEL_ASSIGN_OR_RETURN(Json j, parse_object(json_text, source));
  Reader r(j, source);
  GenerationConfig g;
  KEEL_ASSIGN_OR_RETURN(g.eos_token_ids, r.id_list("eos_token_id"));
  KEEL_ASSIGN_OR_RETURN(std::vector<int32_t> bos, r.id_list("bos_token_id"));
  if (!bos.empty()) g.bos_token_id = bos.front();
  if (r.has("temperature")) {
    KEEL_ASSIGN_OR_RETURN(double t, r.number("temperature", 1.0));
    g.temperature = static_cast<float>(t);
  }
  if (r.has("top_p")) {
    KEEL_ASSIGN_OR_RETURN(double p, r.number("top_p", 1.0));
    g.top_p = static_cast<float>(p);
  }
  if (r.has("top_k")) {
    KEEL_ASSIGN_OR_RETURN(int64_t k, r.integer("top_k"));
    g.top_k = static_cast<int>(std::clamp<int64_t>(k, -1, INT32_MAX));
  }
  if (r.has("repetition_penalty")) {
    KEEL_ASSIGN_OR_RETURN(double p, r.number("repetition_penalty", 1.0));
    g.repetition_penalty = static_cast<float>(p);
  }
  if (r.has("do_sample")) {
    KEEL_ASSIGN_OR_RETURN(g.do_sample, r.boolean("do_sample", false));
  }
  if (r.has("max_length")) {
    KEEL_ASSIGN_OR_RETURN(g.max_length, r.integer("max_length"));
  }
  return g;
}

namespace {

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return UnavailableError("cannot read {}", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<ModelConfig> load_model_config(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(dir) / "config.json";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFoundError("model folder {} does not exist or is not a folder", dir);
  }
  if (!fs::exists(path, ec)) {
    return NotFoundError("{} has no config.json; pass a HuggingFace model folder", dir);
  }
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return parse_model_config(text, path.string());
}

Result<GenerationConfig> load_generation_config(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(dir) / "generation_config.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return GenerationConfig{};
  KEEL_ASSIGN_OR_RETURN(std::string text, read_file(path));
  return parse_generation_config(text, path.string());
}

}  // namespace keel::model
