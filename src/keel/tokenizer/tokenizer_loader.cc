// Loading: tokenizer.json (+ tokenizer_config.json), tokenizer.model, folders.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "keel/core/json_depth.h"
#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/sentencepiece/sentencepiece_model.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::tokenizer {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
namespace ju = keel::tokenizer::json;

Result<std::string> read_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFoundError("{}: no such file", path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("{}: cannot open for reading", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return DataLossError("{}: read failed", path.string());
  return ss.str();
}

Result<Json> parse_json(std::string_view text, const char* what) {
  KEEL_RETURN_IF_ERROR(check_json_depth(text, what));
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    return InvalidArgumentError("{} is not valid JSON (byte {}): {}", what, e.byte, e.what());
  } catch (const Json::exception& e) {
    // Not a parse_error: e.g. out_of_range.406, a number beyond double ("1e400").
    return InvalidArgumentError("{} is not valid JSON: {}", what, e.what());
  }
}

// bos_token / eos_token in tokenizer_config.json: a string, {"content": ...} or null.
Result<std::optional<std::string>> config_token(const Json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_object()) {
    KEEL_ASSIGN_OR_RETURN(std::string content, ju::get_string(*it, "content", std::string("$.") + key));
    return std::optional<std::string>(content);
  }
  return InvalidArgumentError("tokenizer_config.json: $.{}: {}", key,
                              ju::type_mismatch(*it, "a string, an object or null"));
}

Status apply_config(const Json& config, TokenizerParts& parts) {
  if (!config.is_object()) {
    return InvalidArgumentError("tokenizer_config.json: {}", ju::type_mismatch(config, "an object"));
  }
  KEEL_ASSIGN_OR_RETURN(auto bos, config_token(config, "bos_token"));
  KEEL_ASSIGN_OR_RETURN(auto eos, config_token(config, "eos_token"));
  if (bos) parts.bos_token = bos;
  if (eos) parts.eos_token = eos;
  for (const char* key : {"add_bos_token", "add_eos_token"}) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) continue;
    if (!it->is_boolean()) {
      return InvalidArgumentError("tokenizer_config.json: $.{}: {}", key,
                                  ju::type_mismatch(*it, "a boolean"));
    }
    (std::string_view(key) == "add_bos_token" ? parts.add_bos_token : parts.add_eos_token) =
        it->get<bool>();
  }
  return OkStatus();
}

Result<std::vector<AddedToken>> parse_added_tokens(const Json& root) {
  std::vector<AddedToken> out;
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return out;
  const std::string path = "$.added_tokens";
  if (!it->is_array()) return InvalidArgumentError("{}: {}", path, ju::type_mismatch(*it, "an array"));
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& t = (*it)[i];
    const std::string p = ju::index_path(path, i);
    AddedToken a;
    KEEL_ASSIGN_OR_RETURN(int64_t id, ju::get_int(t, "id", p));
    if (id < 0 || id > INT32_MAX) return InvalidArgumentError("{}.id: {} is out of range", p, id);
    a.id = static_cast<uint32_t>(id);
    KEEL_ASSIGN_OR_RETURN(a.content, ju::get_string(t, "content", p));
    KEEL_ASSIGN_OR_RETURN(a.special, ju::opt_bool(t, "special", p, false));
    KEEL_ASSIGN_OR_RETURN(a.normalized, ju::opt_bool(t, "normalized", p, !a.special));
    KEEL_ASSIGN_OR_RETURN(a.lstrip, ju::opt_bool(t, "lstrip", p, false));
    KEEL_ASSIGN_OR_RETURN(a.rstrip, ju::opt_bool(t, "rstrip", p, false));
    KEEL_ASSIGN_OR_RETURN(a.single_word, ju::opt_bool(t, "single_word", p, false));
    out.push_back(std::move(a));
  }
  return out;
}

const Json& member_or_null(const Json& root, const char* key) {
  static const Json kNull;
  auto it = root.find(key);
  return it == root.end() ? kNull : *it;
}

}  // namespace

Result<Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json) {
  KEEL_ASSIGN_OR_RETURN(Json root, parse_json(tokenizer_json, "tokenizer.json"));
  if (!root.is_object()) {
    return InvalidArgumentError("tokenizer.json: $: {}", ju::type_mismatch(root, "an object"));
  }
  const Json& model_json = member_or_null(root, "model");
  if (model_json.is_null()) {
    return InvalidArgumentError("tokenizer.json: $: missing required field 'model'");
  }
  TokenizerParts parts;
  const Json& pre = member_or_null(root, "pre_tokenizer");
  StageOptions options;
  // Only a string "type" counts: json::value() would throw type_error on
  // {"type": true} (found by fuzz/tokenizer_json_fuzz); make_model reports it.
  const auto model_type = model_json.is_object() ? model_json.find("type") : model_json.end();
  options.byte_level_raw = contains_byte_level(pre) && model_type != model_json.end() &&
                           model_type->is_string() &&
                           model_type->get_ref<const std::string&>() == "BPE";
  // A missing "type" on the model means BPE in old files; the factory handles it.
  KEEL_ASSIGN_OR_RETURN(parts.normalizer, make_normalizer(member_or_null(root, "normalizer"), "$.normalizer"));
  KEEL_ASSIGN_OR_RETURN(parts.pre_tokenizer, make_pre_tokenizer(pre, "$.pre_tokenizer", options));
  KEEL_ASSIGN_OR_RETURN(parts.model, make_model(model_json, "$.model", options));
  KEEL_ASSIGN_OR_RETURN(parts.post_processor,
                        make_post_processor(member_or_null(root, "post_processor"), "$.post_processor"));
  KEEL_ASSIGN_OR_RETURN(parts.decoder, make_decoder(member_or_null(root, "decoder"), "$.decoder"));
  KEEL_ASSIGN_OR_RETURN(parts.added_tokens, parse_added_tokens(root));
  if (!config_json.empty()) {
    KEEL_ASSIGN_OR_RETURN(Json config, parse_json(config_json, "tokenizer_config.json"));
    KEEL_RETURN_IF_ERROR(apply_config(config, parts));
  }
  return from_parts(std::move(parts));
}

Result<Tokenizer> Tokenizer::from_path(const std::string& path_str) {
  const fs::path path(path_str);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return NotFoundError("tokenizer path '{}' does not exist: pass a tokenizer.json, a "
                         "tokenizer.model, or a model folder containing one", path_str);
  }
  fs::path file = path;
  std::string config;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "tokenizer.json", ec)) file = path / "tokenizer.json";
    else if (fs::exists(path / "tokenizer.model", ec)) file = path / "tokenizer.model";
    else {
      return NotFoundError("folder '{}' has neither tokenizer.json nor tokenizer.model", path_str);
    }
    if (fs::exists(path / "tokenizer_config.json", ec)) {
      KEEL_ASSIGN_OR_RETURN(config, read_file(path / "tokenizer_config.json"));
    }
  }
  KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(file));
  Result<Tokenizer> r = [&]() -> Result<Tokenizer> {
    if (file.extension() == ".model") {
      KEEL_ASSIGN_OR_RETURN(TokenizerParts parts, load_sentencepiece_model(bytes));
      if (!config.empty()) {
        KEEL_ASSIGN_OR_RETURN(Json c, parse_json(config, "tokenizer_config.json"));
        KEEL_RETURN_IF_ERROR(apply_config(c, parts));
      }
      return from_parts(std::move(parts));
    }
    return from_json(bytes, config);
  }();
  if (!r.ok()) return r.status().with_context(file.string());
  return r;
}

}  // namespace keel::tokenizer
