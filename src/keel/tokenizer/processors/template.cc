// TemplateProcessing: special tokens around the sequence, as a template.
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <vector>

#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/processors/processors.h"

namespace keel::tokenizer {
namespace {

// One template entry: the input sequence, or the ids of a special token.
struct Piece {
  bool is_sequence = false;
  std::vector<uint32_t> special_ids;  // when !is_sequence
};

// Applies the single-sequence template: each SpecialToken entry contributes
// its ids (offsets (0,0)), each Sequence entry a copy of the input.
// Immutable; thread-safe.
class TemplateProcessor final : public PostProcessor {
 public:
  explicit TemplateProcessor(std::vector<Piece> single) : single_(std::move(single)) {
    for (const Piece& p : single_) added_ += p.special_ids.size();
  }

  size_t added_tokens_single() const override { return added_; }

  Status process_single(std::vector<uint32_t>& ids,
                        std::vector<std::pair<uint32_t, uint32_t>>* offsets) const override {
    std::vector<uint32_t> out_ids;
    std::vector<std::pair<uint32_t, uint32_t>> out_offsets;
    size_t sequences = 0;
    for (const Piece& p : single_) sequences += p.is_sequence ? 1 : 0;
    out_ids.reserve(added_ + sequences * ids.size());
    if (offsets != nullptr) out_offsets.reserve(out_ids.capacity());
    for (const Piece& p : single_) {
      if (p.is_sequence) {
        out_ids.insert(out_ids.end(), ids.begin(), ids.end());
        if (offsets != nullptr) out_offsets.insert(out_offsets.end(), offsets->begin(), offsets->end());
        continue;
      }
      out_ids.insert(out_ids.end(), p.special_ids.begin(), p.special_ids.end());
      if (offsets != nullptr) out_offsets.resize(out_offsets.size() + p.special_ids.size(), {0, 0});
    }
    ids.swap(out_ids);
    if (offsets != nullptr) offsets->swap(out_offsets);
    return OkStatus();
  }

 private:
  std::vector<Piece> single_;
  size_t added_ = 0;
};

using SpecialTokens = std::map<std::string, std::vector<uint32_t>, std::less<>>;

Result<SpecialTokens> parse_special_tokens(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* map, json::get_object(j, "special_tokens", path));
  const std::string map_path = json::child_path(path, "special_tokens");
  SpecialTokens out;
  for (const auto& [name, entry] : map->items()) {
    const std::string entry_path = json::child_path(map_path, name);
    KEEL_RETURN_IF_ERROR(json::get_string(entry, "id", entry_path));
    KEEL_ASSIGN_OR_RETURN(const nlohmann::json* ids, json::get_array(entry, "ids", entry_path));
    KEEL_RETURN_IF_ERROR(json::get_array(entry, "tokens", entry_path));
    std::vector<uint32_t> values;
    for (size_t i = 0; i < ids->size(); ++i) {
      const nlohmann::json& v = (*ids)[i];
      if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) {
        return InvalidArgumentError("{}: expected a token id (0..4294967295), got {}",
                                    json::index_path(json::child_path(entry_path, "ids"), i),
                                    v.dump());
      }
      values.push_back(static_cast<uint32_t>(v.get<uint64_t>()));
    }
    out.emplace(name, std::move(values));
  }
  return out;
}

// Parses a template (list of {"SpecialToken": {...}} / {"Sequence": {...}}).
// `single` rejects sequence B, which a single input does not have.
Result<std::vector<Piece>> parse_template(const nlohmann::json& j, const char* key,
                                          const std::string& path, const SpecialTokens& specials,
                                          bool single) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* list, json::get_array(j, key, path));
  const std::string list_path = json::child_path(path, key);
  std::vector<Piece> pieces;
  for (size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& item = (*list)[i];
    const std::string item_path = json::index_path(list_path, i);
    if (!item.is_object() || item.size() != 1) {
      return InvalidArgumentError(
          "{}: expected an object with exactly one of \"SpecialToken\" or \"Sequence\", got {}",
          item_path, item.dump());
    }
    const std::string kind = item.begin().key();
    const std::string piece_path = json::child_path(item_path, kind);
    if (kind != "SpecialToken" && kind != "Sequence") {
      return InvalidArgumentError(
          "{}: unknown template entry '{}' (expected \"SpecialToken\" or \"Sequence\")",
          item_path, kind);
    }
    KEEL_ASSIGN_OR_RETURN(const std::string id, json::get_string(item.begin().value(), "id",
                                                                 piece_path));
    KEEL_ASSIGN_OR_RETURN(const int64_t type_id, json::get_int(item.begin().value(), "type_id",
                                                               piece_path));
    if (type_id < 0 || type_id > UINT32_MAX) {
      return InvalidArgumentError("{}.type_id: expected a non-negative integer, got {}",
                                  piece_path, type_id);
    }
    Piece piece;
    if (kind == "Sequence") {
      if (id != "A" && id != "B") {
        return InvalidArgumentError("{}.id: expected \"A\" or \"B\", got \"{}\"", piece_path, id);
      }
      if (single && id == "B") {
        return InvalidArgumentError(
            "{}: the single-sequence template uses sequence B, which a single input does not "
            "have",
            piece_path);
      }
      piece.is_sequence = true;
    } else {
      auto it = specials.find(id);
      if (it == specials.end()) {
        return InvalidArgumentError(
            "{}: special token '{}' is used by the template but not defined in special_tokens",
            piece_path, id);
      }
      piece.special_ids = it->second;
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

}  // namespace

ProcessorResult make_template_processor(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const SpecialTokens specials, parse_special_tokens(j, path));
  KEEL_ASSIGN_OR_RETURN(std::vector<Piece> single,
                        parse_template(j, "single", path, specials, /*single=*/true));
  KEEL_RETURN_IF_ERROR(parse_template(j, "pair", path, specials, /*single=*/false));
  return std::unique_ptr<PostProcessor>(std::make_unique<TemplateProcessor>(std::move(single)));
}

}  // namespace keel::tokenizer
