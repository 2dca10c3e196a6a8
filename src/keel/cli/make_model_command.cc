// keel make-model: write a random-weight HuggingFace model folder
// (model::write_random_model), optionally with a tokenizer copied in.
#include <nlohmann/json.hpp>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "keel/cli/commands.h"
#include "keel/model/make_model.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::cli {
namespace {

namespace fs = std::filesystem;
using model::MakeModelSpec;

struct MakeModelOptions {
  std::string arch, preset, tokenizer, dtype = "bf16", out;
  bool force = false;
  // Every other flag, by name, as typed; parsed here so that a bad value
  // names its flag.
  std::map<std::string, std::string> values;
};

Result<int64_t> parse_int(const std::string& flag, const std::string& v) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return InvalidArgumentError("{}: '{}' is not an integer", flag, v);
  }
  return out;
}

Result<double> parse_double(const std::string& flag, const std::string& v) {
  double out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return InvalidArgumentError("{}: '{}' is not a number", flag, v);
  }
  return out;
}

Result<bool> parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return InvalidArgumentError("{}: '{}' is not true or false", flag, v);
}

// "2GiB", "500MB", "65536": KB/MB/GB are powers of 1000 (as transformers'
// max_shard_size), KiB/MiB/GiB powers of 1024.
Result<uint64_t> parse_size(const std::string& flag, const std::string& v) {
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  std::string unit = v.substr(digits);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, uint64_t> kUnits = {
      {"", 1}, {"b", 1}, {"kb", 1000}, {"mb", 1000'000}, {"gb", 1000'000'000},
      {"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", uint64_t{1} << 30}};
  auto it = kUnits.find(unit);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + digits, n);
  if (digits == 0 || ec != std::errc() || end != v.data() + digits || it == kUnits.end() ||
      __builtin_mul_overflow(n, it->second, &n)) {
    return InvalidArgumentError("{}: '{}' is not a size (e.g. 2GiB, 500MB, 65536)", flag, v);
  }
  return n;
}

Result<std::vector<int64_t>> parse_ids(const std::string& flag, const std::string& v) {
  std::vector<int64_t> ids;
  std::stringstream ss(v);
  std::string part;
  while (std::getline(ss, part, ',')) {
    KEEL_ASSIGN_OR_RETURN(int64_t id, parse_int(flag, part));
    ids.push_back(id);
  }
  return ids;
}

// bos/eos ids (eos may be a list) from a model folder's generation_config.json
// or config.json, where the tokenizer path is such a folder.
void ids_from_folder(const fs::path& dir, MakeModelSpec& spec) {
  for (const char* file : {"generation_config.json", "config.json"}) {
    std::ifstream in(dir / file);
    if (!in) continue;
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    auto eos = j.find("eos_token_id");
    if (eos == j.end()) continue;
    std::vector<int64_t> ids;
    if (eos->is_number_integer()) ids.push_back(eos->get<int64_t>());
    for (const auto& e : eos->is_array() ? *eos : nlohmann::json::array()) {
      if (e.is_number_integer()) ids.push_back(e.get<int64_t>());
    }
    if (ids.empty()) continue;
    spec.eos_token_ids = ids;
    auto bos = j.find("bos_token_id");
    if (bos != j.end() && bos->is_number_integer()) spec.bos_token_id = bos->get<int64_t>();
    return;
  }
}

// Loads the tokenizer, sizes the vocabulary for it and takes its bos/eos ids
// (unless the flags set them).
Status apply_tokenizer(const MakeModelOptions& o, bool tiny, MakeModelSpec& spec) {
  auto tok = tokenizer::Tokenizer::from_path(o.tokenizer);
  if (!tok.ok()) return tok.status().with_context("--tokenizer");
  const auto needed = static_cast<int64_t>(tok->vocab_size());
  if (tiny && !o.values.count("--vocab")) spec.vocab_size = needed;
  if (needed > spec.vocab_size) {
    return InvalidArgumentError("the tokenizer has ids up to {}, so the vocabulary must hold at "
                                "least {} ids: pass --vocab {} or more (it is {})",
                                needed - 1, needed, needed, spec.vocab_size);
  }
  const bool bos_flag = o.values.count("--bos-id") > 0, eos_flag = o.values.count("--eos-id") > 0;
  if (!bos_flag && tok->bos_id()) spec.bos_token_id = *tok->bos_id();
  if (!eos_flag && tok->eos_id()) spec.eos_token_ids = {*tok->eos_id()};
  std::error_code ec;
  if (!eos_flag && fs::is_directory(o.tokenizer, ec)) {
    MakeModelSpec from_folder = spec;
    ids_from_folder(o.tokenizer, from_folder);
    spec.eos_token_ids = from_folder.eos_token_ids;
    if (!bos_flag) spec.bos_token_id = from_folder.bos_token_id;
  }
  return OkStatus();
}

Result<MakeModelSpec> build_spec(const MakeModelOptions& o) {
  const std::string preset = o.preset.empty() ? "tiny" : o.preset;
  model::ModelArch arch;
  if (!o.arch.empty()) {
    KEEL_ASSIGN_OR_RETURN(arch, model::parse_model_arch(o.arch));
  } else if (auto a = model::preset_arch(preset)) {
    arch = *a;
  } else {
    return InvalidArgumentError("--arch is required (llama, mistral, qwen2, qwen3, internlm2) "
                                "unless --preset names a real model");
  }
  KEEL_ASSIGN_OR_RETURN(MakeModelSpec spec, model::preset_spec(arch, preset));
  const auto& v = o.values;
  auto get = [&](const char* flag) -> const std::string* {
    auto it = v.find(flag);
    return it == v.end() ? nullptr : &it->second;
  };
  auto set_int = [&](const char* flag, int64_t& field) -> Status {
    if (const std::string* s = get(flag)) {
      KEEL_ASSIGN_OR_RETURN(field, parse_int(flag, *s));
    }
    return OkStatus();
  };
  auto set_double = [&](const char* flag, double& field) -> Status {
    if (const std::string* s = get(flag)) {
      KEEL_ASSIGN_OR_RETURN(field, parse_double(flag, *s));
    }
    return OkStatus();
  };
  KEEL_RETURN_IF_ERROR(set_int("--layers", spec.num_layers));
  KEEL_RETURN_IF_ERROR(set_int("--hidden", spec.hidden_size));
  KEEL_RETURN_IF_ERROR(set_int("--heads", spec.num_heads));
  KEEL_RETURN_IF_ERROR(set_int("--kv-heads", spec.num_kv_heads));
  KEEL_RETURN_IF_ERROR(set_int("--intermediate", spec.intermediate_size));
  KEEL_RETURN_IF_ERROR(set_int("--vocab", spec.vocab_size));
  KEEL_RETURN_IF_ERROR(set_int("--max-positions", spec.max_position_embeddings));
  if (get("--head-dim")) {
    KEEL_RETURN_IF_ERROR(set_int("--head-dim", spec.head_dim));
  } else if (get("--hidden") || get("--heads")) {
    // head_dim follows hidden / heads unless given.
    if (spec.num_heads < 1 || spec.hidden_size % spec.num_heads != 0) {
      return InvalidArgumentError("--hidden {} is not a multiple of --heads {}; pass --head-dim",
                                  spec.hidden_size, spec.num_heads);
    }
    spec.head_dim = spec.hidden_size / spec.num_heads;
  }
  KEEL_RETURN_IF_ERROR(set_double("--rope-theta", spec.rope_theta));
  KEEL_RETURN_IF_ERROR(set_double("--rms-norm-eps", spec.rms_norm_eps));
  KEEL_RETURN_IF_ERROR(set_double("--weight-std", spec.weight_std));
  KEEL_RETURN_IF_ERROR(set_double("--embedding-std", spec.embedding_std));
  if (const std::string* s = get("--tie-embeddings")) {
    KEEL_ASSIGN_OR_RETURN(spec.tie_word_embeddings, parse_bool("--tie-embeddings", *s));
  }
  if (const std::string* s = get("--attention-bias")) {
    KEEL_ASSIGN_OR_RETURN(spec.attention_bias, parse_bool("--attention-bias", *s));
  }
  if (const std::string* s = get("--sliding-window")) {
    if (*s == "none") {
      spec.sliding_window.reset();
    } else {
      KEEL_ASSIGN_OR_RETURN(spec.sliding_window, parse_int("--sliding-window", *s));
    }
  }
  if (const std::string* s = get("--rope-scaling")) {
    if (*s == "none") {
      spec.rope_scaling.reset();
    } else {
      auto type = model::parse_rope_scaling_type(*s);
      if (!type.ok()) return type.status().with_context("--rope-scaling (or none)");
      if (!spec.rope_scaling || spec.rope_scaling->type != *type) spec.rope_scaling.emplace();
      spec.rope_scaling->type = *type;
    }
  }
  for (const char* flag : {"--rope-scaling-factor", "--rope-low-freq-factor",
                           "--rope-high-freq-factor", "--rope-original-max-positions"}) {
    if (get(flag) && !spec.rope_scaling) {
      return InvalidArgumentError("{} needs --rope-scaling llama3|linear|dynamic", flag);
    }
  }
  if (spec.rope_scaling) {
    model::RopeScaling& r = *spec.rope_scaling;
    KEEL_RETURN_IF_ERROR(set_double("--rope-scaling-factor", r.factor));
    KEEL_RETURN_IF_ERROR(set_double("--rope-low-freq-factor", r.low_freq_factor));
    KEEL_RETURN_IF_ERROR(set_double("--rope-high-freq-factor", r.high_freq_factor));
    KEEL_RETURN_IF_ERROR(set_int("--rope-original-max-positions", r.original_max_position_embeddings));
  }
  if (const std::string* s = get("--seed")) {
    KEEL_ASSIGN_OR_RETURN(int64_t seed, parse_int("--seed", *s));
    spec.seed = static_cast<uint64_t>(seed);
  }
  if (const std::string* s = get("--shard-size")) {
    KEEL_ASSIGN_OR_RETURN(spec.shard_size_bytes, parse_size("--shard-size", *s));
  }
  if (o.dtype == "f32") spec.dtype = model::DType::kF32;
  else if (o.dtype == "f16") spec.dtype = model::DType::kF16;
  else if (o.dtype == "bf16") spec.dtype = model::DType::kBF16;
  else return InvalidArgumentError("--dtype: '{}' is not f32, f16 or bf16", o.dtype);

  if (!o.tokenizer.empty()) KEEL_RETURN_IF_ERROR(apply_tokenizer(o, preset == "tiny", spec));
  if (const std::string* s = get("--bos-id")) {
    if (*s == "none") {
      spec.bos_token_id.reset();
    } else {
      KEEL_ASSIGN_OR_RETURN(spec.bos_token_id, parse_int("--bos-id", *s));
    }
  }
  if (const std::string* s = get("--eos-id")) {
    KEEL_ASSIGN_OR_RETURN(spec.eos_token_ids, parse_ids("--eos-id", *s));
  }
  KEEL_RETURN_IF_ERROR(model::validate(spec));
  return spec;
}

int run_make_model(const MakeModelOptions& o) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "keel make-model: %s\n", std::string(s.message()).c_str());
    return 1;
  };
  auto spec = build_spec(o);
  if (!spec.ok()) return fail(spec.status());
  const auto start = std::chrono::steady_clock::now();
  model::WriteModelOptions w;
  w.tokenizer_path = o.tokenizer;
  w.overwrite = o.force;
  if (Status s = model::write_random_model(*spec, o.out, w); !s.ok()) return fail(s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t bytes = 0, files = 0;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(o.out, ec)) {
    if (e.path().extension() == ".safetensors") bytes += e.file_size(ec), ++files;
  }
  const bool gb = bytes >= 1'000'000'000;
  std::printf("wrote %s: %s, %llu parameters, %s, %llu weight file%s (%.2f %s) in %.1f s\n",
              o.out.c_str(), std::string(model::model_arch_name(spec->arch)).c_str(),
              static_cast<unsigned long long>(model::parameter_count(*spec)), o.dtype.c_str(),
              static_cast<unsigned long long>(files), files == 1 ? "" : "s",
              double(bytes) / (gb ? 1e9 : 1e6), gb ? "GB" : "MB", seconds);
  return 0;
}

}  // namespace

Runner add_make_model_command(CLI::App& app) {
  auto o = std::make_shared<MakeModelOptions>();
  CLI::App* cmd = app.add_subcommand(
      "make-model", "Write a random-weight HuggingFace model folder (config.json, "
                    "generation_config.json, safetensors weights, tokenizer files) for tests");
  cmd->add_option("--arch", o->arch,
                  "llama, mistral, qwen2, qwen3 or internlm2 (default: the preset's model)");
  cmd->add_option("--preset", o->preset,
                  "tiny (default), qwen2.5-0.5b, llama-3.2-1b or qwen3-0.6b; flags override it");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "tokenizer.json, tokenizer.model or a folder: its files are copied in, the "
                  "vocabulary sized for it and bos/eos taken from it (default: no tokenizer)");
  cmd->add_option("--dtype", o->dtype, "f32, f16 or bf16 (default bf16)");
  cmd->add_option("--out", o->out, "the model folder to write")->required();
  cmd->add_flag("--force", o->force,
                "write into a non-empty folder, replacing the model files there");
  struct ValueFlag {
    const char* name;
    const char* type;
    const char* help;
  };
  const ValueFlag kValueFlags[] = {
      {"--layers", "N", "decoder layers"},
      {"--hidden", "N", "hidden size"},
      {"--heads", "N", "query heads"},
      {"--kv-heads", "N", "key/value heads"},
      {"--head-dim", "N", "dimension per head (default hidden / heads)"},
      {"--intermediate", "N", "MLP intermediate size"},
      {"--vocab", "N", "vocabulary size (tiny: the tokenizer's, else 512)"},
      {"--max-positions", "N", "max_position_embeddings"},
      {"--rope-theta", "X", "RoPE base"},
      {"--rms-norm-eps", "X", "RMSNorm epsilon"},
      {"--tie-embeddings", "BOOL", "true or false: lm_head shares the embedding"},
      {"--attention-bias", "BOOL", "true or false: biases on the attention projections (llama, qwen3, "
                           "internlm2's bias)"},
      {"--sliding-window", "N|none", "mistral's window in tokens, or none"},
      {"--rope-scaling", "TYPE", "llama3, linear, dynamic or none"},
      {"--rope-scaling-factor", "X", "RoPE scaling factor"},
      {"--rope-low-freq-factor", "X", "llama3 low_freq_factor"},
      {"--rope-high-freq-factor", "X", "llama3 high_freq_factor"},
      {"--rope-original-max-positions", "N", "llama3 original_max_position_embeddings"},
      {"--bos-id", "ID|none", "bos_token_id, or none"},
      {"--eos-id", "ID[,ID...]", "eos_token_id; several comma-separated"},
      {"--seed", "N", "random seed (default 0): the same seed gives the same bytes"},
      {"--weight-std", "X", "std of linear weights (default 1/sqrt(fan_in))"},
      {"--embedding-std", "X", "std of embeddings and lm_head (default 2/sqrt(hidden))"},
      {"--shard-size", "SIZE", "bytes per weights file before sharding, e.g. 500MB, 2GiB (default 2GiB)"},
  };
  for (const ValueFlag& f : kValueFlags) {
    std::string name = f.name;
    cmd->add_option_function<std::string>(
           name, [o, name](const std::string& v) { o->values[name] = v; }, f.help)
        ->type_name(f.type);
  }
  return [o] { return run_make_model(*o); };
}

}  // namespace keel::cli
