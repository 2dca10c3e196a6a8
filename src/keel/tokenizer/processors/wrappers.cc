// BertProcessing, RobertaProcessing ([CLS] A [SEP]) and the ByteLevel
// post-processor (adds nothing; may trim offsets).
#include <nlohmann/json.hpp>

#include <memory>

#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/processors/processors.h"

namespace keel::tokenizer {
namespace {

// Wraps the sequence as cls, ids..., sep. For RobertaProcessing it also asks
// for offset trimming. Immutable; thread-safe.
class ClsSepProcessor final : public PostProcessor, public OffsetTrimmer {
 public:
  ClsSepProcessor(uint32_t cls, uint32_t sep, std::optional<OffsetTrimming> trimming)
      : cls_(cls), sep_(sep), trimming_(trimming) {}

  size_t added_tokens_single() const override { return 2; }

  Status process_single(std::vector<uint32_t>& ids,
                        std::vector<std::pair<uint32_t, uint32_t>>* offsets) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
    if (offsets != nullptr) {
      offsets->insert(offsets->begin(), {0, 0});
      offsets->push_back({0, 0});
    }
    return OkStatus();
  }

  std::optional<OffsetTrimming> trimming() const override { return trimming_; }

 private:
  uint32_t cls_;
  uint32_t sep_;
  std::optional<OffsetTrimming> trimming_;
};

// Adds no tokens; only asks for offset trimming when trim_offsets is set.
class ByteLevelProcessor final : public PostProcessor, public OffsetTrimmer {
 public:
  explicit ByteLevelProcessor(std::optional<OffsetTrimming> trimming) : trimming_(trimming) {}

  size_t added_tokens_single() const override { return 0; }
  Status process_single(std::vector<uint32_t>&,
                        std::vector<std::pair<uint32_t, uint32_t>>*) const override {
    return OkStatus();
  }
  std::optional<OffsetTrimming> trimming() const override { return trimming_; }

 private:
  std::optional<OffsetTrimming> trimming_;
};

// A ["token", id] pair (the sep/cls fields); returns the id.
Result<uint32_t> get_token_pair(const nlohmann::json& j, const char* key,
                                const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* pair, json::get_array(j, key, path));
  if (pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_number_unsigned() ||
      (*pair)[1].get<uint64_t>() > UINT32_MAX) {
    return InvalidArgumentError("{}: expected [\"token\", id], got {}",
                                json::child_path(path, key), pair->dump());
  }
  return static_cast<uint32_t>((*pair)[1].get<uint64_t>());
}

}  // namespace

ProcessorResult make_bert_processor(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const uint32_t sep, get_token_pair(j, "sep", path));
  KEEL_ASSIGN_OR_RETURN(const uint32_t cls, get_token_pair(j, "cls", path));
  return std::unique_ptr<PostProcessor>(std::make_unique<ClsSepProcessor>(cls, sep, std::nullopt));
}

ProcessorResult make_roberta_processor(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const uint32_t sep, get_token_pair(j, "sep", path));
  KEEL_ASSIGN_OR_RETURN(const uint32_t cls, get_token_pair(j, "cls", path));
  KEEL_ASSIGN_OR_RETURN(const bool trim, json::opt_bool(j, "trim_offsets", path, true));
  KEEL_ASSIGN_OR_RETURN(const bool prefix, json::opt_bool(j, "add_prefix_space", path, true));
  std::optional<OffsetTrimming> trimming;
  if (trim) trimming = OffsetTrimming{prefix};
  return std::unique_ptr<PostProcessor>(std::make_unique<ClsSepProcessor>(cls, sep, trimming));
}

ProcessorResult make_byte_level_processor(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const bool prefix, json::get_bool(j, "add_prefix_space", path));
  KEEL_ASSIGN_OR_RETURN(const bool trim, json::get_bool(j, "trim_offsets", path));
  KEEL_RETURN_IF_ERROR(json::opt_bool(j, "use_regex", path, true));
  std::optional<OffsetTrimming> trimming;
  if (trim) trimming = OffsetTrimming{prefix};
  return std::unique_ptr<PostProcessor>(std::make_unique<ByteLevelProcessor>(trimming));
}

}  // namespace keel::tokenizer
