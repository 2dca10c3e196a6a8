// make_model: builds a Model from its tokenizer.json object, dispatching on
// `type` (BPE, Unigram, WordLevel, WordPiece). Objects without `type` (old
// files) are BPE when they have `merges` and Unigram when `vocab` is a list.
#include <nlohmann/json.hpp>

#include <limits>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/models/bpe.h"
#include "keel/tokenizer/models/bpe_internal.h"
#include "keel/tokenizer/models/serde_float.h"
#include "keel/tokenizer/models/unigram.h"
#include "keel/tokenizer/models/word_level.h"

namespace keel::tokenizer {
namespace {

using Json = nlohmann::json;

// A `"token": id` object.
Result<std::vector<std::pair<std::string, uint32_t>>> parse_vocab_map(const Json& model,
                                                                      const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const Json* vocab, json::get_object(model, "vocab", path));
  std::vector<std::pair<std::string, uint32_t>> out;
  out.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    const Json& v = it.value();
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > std::numeric_limits<uint32_t>::max()) {
      return InvalidArgumentError("{}.vocab[\"{}\"]: expected a non-negative 32-bit integer id, "
                                  "got {}", path, it.key(), v.dump());
    }
    out.emplace_back(it.key(), static_cast<uint32_t>(v.get<int64_t>()));
  }
  return out;
}

Result<std::unique_ptr<Model>> make_bpe_model(const Json& j, const std::string& path,
                                              const StageOptions& options) {
  BpeConfig config;
  if (auto it = j.find("dropout"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) {
      return InvalidArgumentError("{}.dropout: {}", path, json::type_mismatch(*it, "a number"));
    }
    if (it->get<double>() != 0.0) {
      return UnimplementedError("{}.dropout: BPE dropout ({}) is not supported: keel is "
                                "deterministic; set dropout to null", path, it->dump());
    }
  }
  KEEL_ASSIGN_OR_RETURN(config.unk_token, json::opt_nullable_string(j, "unk_token", path));
  KEEL_ASSIGN_OR_RETURN(config.continuing_subword_prefix,
                        json::opt_string(j, "continuing_subword_prefix", path, ""));
  KEEL_ASSIGN_OR_RETURN(config.end_of_word_suffix,
                        json::opt_string(j, "end_of_word_suffix", path, ""));
  KEEL_ASSIGN_OR_RETURN(config.fuse_unk, json::opt_bool(j, "fuse_unk", path, false));
  KEEL_ASSIGN_OR_RETURN(config.byte_fallback, json::opt_bool(j, "byte_fallback", path, false));
  KEEL_ASSIGN_OR_RETURN(config.ignore_merges, json::opt_bool(j, "ignore_merges", path, false));
  config.byte_level_raw = options.byte_level_raw;
  KEEL_ASSIGN_OR_RETURN(config.vocab, parse_vocab_map(j, path));

  KEEL_ASSIGN_OR_RETURN(const Json* merges, json::get_array(j, "merges", path));
  std::vector<size_t> json_index;
  config.merges.reserve(merges->size());
  json_index.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    std::string left, right;
    if (m.is_string()) {
      const std::string& line = m.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;  // merges.txt header, as HF skips it
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return InvalidArgumentError("{}.merges[{}]: expected \"a b\" (exactly one space) or "
                                    "[\"a\",\"b\"], got {}", path, i, m.dump());
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return InvalidArgumentError("{}.merges[{}]: expected \"a b\" or [\"a\",\"b\"], got {}",
                                  path, i, m.dump());
    }
    config.merges.push_back(
        BpeMerge{std::move(left), std::move(right), static_cast<uint32_t>(config.merges.size())});
    json_index.push_back(i);
  }
  return models_internal::build_bpe(std::move(config), path, json_index);
}

Result<std::unique_ptr<Model>> make_unigram_model(const Json& j, const std::string& path) {
  UnigramConfig config;
  KEEL_ASSIGN_OR_RETURN(const Json* vocab, json::get_array(j, "vocab", path));
  config.pieces.reserve(vocab->size());
  for (size_t i = 0; i < vocab->size(); ++i) {
    const Json& e = (*vocab)[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) {
      return InvalidArgumentError("{}.vocab[{}]: expected [piece, score], got {}", path, i,
                                  e.dump());
    }
    // Integers are exact either way; other numbers as serde_json reads them.
    const double score = e[1].is_number_float()
                             ? models_internal::serde_json_f64(e[1].get<double>())
                             : e[1].get<double>();
    config.pieces.emplace_back(e[0].get<std::string>(), score);
  }
  if (auto it = j.find("unk_id"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return InvalidArgumentError("{}.unk_id: expected a non-negative integer or null, got {}",
                                  path, it->dump());
    }
    if (it->get<uint64_t>() >= config.pieces.size()) {
      return InvalidArgumentError("{}.unk_id: {} is out of range (vocab size {})", path,
                                  it->get<uint64_t>(), config.pieces.size());
    }
    config.unk_id = static_cast<uint32_t>(it->get<uint64_t>());
  }
  KEEL_ASSIGN_OR_RETURN(config.byte_fallback, json::opt_bool(j, "byte_fallback", path, false));
  auto model = make_unigram(std::move(config));
  if (!model.ok()) return model.status().with_context(path);
  return model;
}

Result<std::unique_ptr<Model>> make_word_level_model(const Json& j, const std::string& path) {
  WordLevelConfig config;
  KEEL_ASSIGN_OR_RETURN(config.vocab, parse_vocab_map(j, path));
  KEEL_ASSIGN_OR_RETURN(config.unk_token, json::opt_string(j, "unk_token", path, "<unk>"));
  auto model = make_word_level(std::move(config));
  if (!model.ok()) return model.status().with_context(path);
  return model;
}

Result<std::unique_ptr<Model>> make_word_piece_model(const Json& j, const std::string& path) {
  WordPieceConfig config;
  KEEL_ASSIGN_OR_RETURN(config.vocab, parse_vocab_map(j, path));
  KEEL_ASSIGN_OR_RETURN(config.unk_token, json::opt_string(j, "unk_token", path, "[UNK]"));
  KEEL_ASSIGN_OR_RETURN(config.continuing_subword_prefix,
                        json::opt_string(j, "continuing_subword_prefix", path, "##"));
  KEEL_ASSIGN_OR_RETURN(const int64_t max_chars,
                        json::opt_int(j, "max_input_chars_per_word", path, 100));
  if (max_chars < 0) {
    return InvalidArgumentError("{}.max_input_chars_per_word: must be >= 0, got {}", path,
                                max_chars);
  }
  config.max_input_chars_per_word = static_cast<size_t>(max_chars);
  auto model = make_word_piece(std::move(config));
  if (!model.ok()) return model.status().with_context(path);
  return model;
}

}  // namespace

Result<std::unique_ptr<Model>> make_model(const nlohmann::json& j, const std::string& path,
                                          const StageOptions& options) {
  if (!j.is_object()) {
    return InvalidArgumentError("{}: {}", path, json::type_mismatch(j, "a model object"));
  }
  std::string type;
  if (j.contains("type")) {
    KEEL_ASSIGN_OR_RETURN(type, json::get_type(j, path));
  } else if (j.contains("merges")) {
    type = "BPE";
  } else if (j.contains("vocab") && j["vocab"].is_array()) {
    type = "Unigram";
  } else {
    return InvalidArgumentError("{}: missing required field 'type' (BPE, Unigram, WordLevel or "
                                "WordPiece)", path);
  }
  if (type == "BPE") return make_bpe_model(j, path, options);
  if (type == "Unigram") return make_unigram_model(j, path);
  if (type == "WordLevel") return make_word_level_model(j, path);
  if (type == "WordPiece") return make_word_piece_model(j, path);
  return json::unknown_type("model", type, path, "BPE, Unigram, WordLevel, WordPiece");
}

}  // namespace keel::tokenizer
