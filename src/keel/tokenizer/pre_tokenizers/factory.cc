// make_pre_tokenizer / contains_byte_level (factories.h) and Sequence.
#include "keel/tokenizer/pre_tokenizers/builders.h"

namespace keel::tokenizer {

namespace {

constexpr const char* kSupported =
    "BertPreTokenizer, ByteLevel, CharDelimiterSplit, Digits, Metaspace, Punctuation, Sequence, "
    "Split, Whitespace, WhitespaceSplit";

// Contract: runs its pre-tokenizers in order on the same PieceList (HF's
// Sequence). Immutable; thread-safe.
class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<PreTokenizerPtr> stages) : stages_(std::move(stages)) {}

  Status pre_tokenize(PieceList& pieces) const override {
    for (const PreTokenizerPtr& stage : stages_) KEEL_RETURN_IF_ERROR(stage->pre_tokenize(pieces));
    return OkStatus();
  }
  bool uses_original_start() const override {
    for (const PreTokenizerPtr& stage : stages_) {
      if (stage->uses_original_start()) return true;
    }
    return false;
  }

 private:
  std::vector<PreTokenizerPtr> stages_;
};

Result<PreTokenizerPtr> make_sequence(const json::json& j, const std::string& path,
                                      const StageOptions& options) {
  KEEL_ASSIGN_OR_RETURN(const json::json* list, json::get_array(j, "pretokenizers", path));
  const std::string list_path = json::child_path(path, "pretokenizers");
  std::vector<PreTokenizerPtr> stages;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string item_path = json::index_path(list_path, i);
    if ((*list)[i].is_null()) {
      return InvalidArgumentError("{}: expected a pre-tokenizer object, got null", item_path);
    }
    KEEL_ASSIGN_OR_RETURN(PreTokenizerPtr stage,
                          make_pre_tokenizer((*list)[i], item_path, options));
    stages.push_back(std::move(stage));
  }
  return PreTokenizerPtr(std::make_unique<SequencePreTokenizer>(std::move(stages)));
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j,
                                                         const std::string& path,
                                                         const StageOptions& options) {
  if (j.is_null()) return PreTokenizerPtr();
  KEEL_ASSIGN_OR_RETURN(std::string type, json::get_type(j, path));
  if (type == "Sequence") return make_sequence(j, path, options);
  if (type == "Split") return make_split_pre_tokenizer(j, path);
  if (type == "ByteLevel") return make_byte_level_pre_tokenizer(j, path, options);
  if (type == "Metaspace") return make_metaspace_pre_tokenizer(j, path);
  if (type == "Digits") return make_digits_pre_tokenizer(j, path);
  if (type == "Punctuation") return make_punctuation_pre_tokenizer(j, path);
  if (type == "Whitespace") return make_whitespace_pre_tokenizer(j, path);
  if (type == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer(j, path);
  if (type == "BertPreTokenizer") return make_bert_pre_tokenizer(j, path);
  if (type == "CharDelimiterSplit") return make_char_delimiter_split_pre_tokenizer(j, path);
  return json::unknown_type("pre-tokenizer", type, path, kSupported);
}

bool contains_byte_level(const nlohmann::json& pre_tokenizer) {
  if (!pre_tokenizer.is_object()) return false;
  const auto type = pre_tokenizer.find("type");
  if (type == pre_tokenizer.end() || !type->is_string()) return false;
  if (type->get_ref<const std::string&>() == "ByteLevel") return true;
  if (type->get_ref<const std::string&>() != "Sequence") return false;
  const auto list = pre_tokenizer.find("pretokenizers");
  if (list == pre_tokenizer.end() || !list->is_array()) return false;
  for (const nlohmann::json& item : *list) {
    if (contains_byte_level(item)) return true;
  }
  return false;
}

}  // namespace keel::tokenizer
