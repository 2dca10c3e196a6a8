// make_normalizer: dispatches a tokenizer.json normalizer object to its
// constructor; also the Sequence normalizer, which needs the dispatch.
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/growth_limit.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/normalizers/normalizers.h"
#include "keel/tokenizer/sentencepiece/precompiled.h"

namespace keel::tokenizer {
namespace {

// Applies its normalizers in order, each to the previous one's output. The
// text may grow to max_grown_size() of the Sequence's input (growth_limit.h).
class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> normalizers)
      : normalizers_(std::move(normalizers)) {}

  Status normalize_aligned(AlignedString& s) const override {
    const size_t in_bytes = s.text.size();
    for (const auto& n : normalizers_) {
      KEEL_RETURN_IF_ERROR(n->normalize_aligned(s));
      KEEL_RETURN_IF_ERROR(check_growth("normalizer Sequence", in_bytes, s.text.size()));
    }
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    if (normalizers_.empty()) {
      out.assign(in);
      return OkStatus();
    }
    thread_local std::string scratch;
    std::string current(in);
    for (const auto& n : normalizers_) {
      KEEL_RETURN_IF_ERROR(n->normalize(current, scratch));
      current.swap(scratch);
      KEEL_RETURN_IF_ERROR(check_growth("normalizer Sequence", in.size(), current.size()));
    }
    out = std::move(current);
    return OkStatus();
  }

  // Moves the normalizers out (flattening a nested Sequence into its parent).
  std::vector<std::unique_ptr<Normalizer>> release() && { return std::move(normalizers_); }

 private:
  std::vector<std::unique_ptr<Normalizer>> normalizers_;
};

constexpr const char* kSupported =
    "BertNormalizer, ByteLevel, Lowercase, NFC, NFD, NFKC, NFKD, Nmt, Precompiled, Prepend, "
    "Replace, Sequence, Strip, StripAccents";

}  // namespace

Result<std::unique_ptr<Normalizer>> make_sequence_normalizer(const nlohmann::json& j,
                                                             const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* list, json::get_array(j, "normalizers", path));
  std::vector<std::unique_ptr<Normalizer>> normalizers;
  const std::string list_path = json::child_path(path, "normalizers");
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string item_path = json::index_path(list_path, i);
    if ((*list)[i].is_null()) {
      return InvalidArgumentError("{}: expected a normalizer object, got null", item_path);
    }
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> n, make_normalizer((*list)[i], item_path));
    // A nested Sequence is spliced in (same result), so the growth bound
    // applies to the whole chain rather than compounding per level.
    if (auto* nested = dynamic_cast<SequenceNormalizer*>(n.get())) {
      for (auto& inner : std::move(*nested).release()) normalizers.push_back(std::move(inner));
      continue;
    }
    normalizers.push_back(std::move(n));
  }
  return std::unique_ptr<Normalizer>(std::make_unique<SequenceNormalizer>(std::move(normalizers)));
}

Result<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& j,
                                                    const std::string& path) {
  if (j.is_null()) return std::unique_ptr<Normalizer>();
  KEEL_ASSIGN_OR_RETURN(const std::string type, json::get_type(j, path));
  if (type == "NFC") return make_unicode_form_normalizer(UnicodeForm::kNfc);
  if (type == "NFD") return make_unicode_form_normalizer(UnicodeForm::kNfd);
  if (type == "NFKC") return make_unicode_form_normalizer(UnicodeForm::kNfkc);
  if (type == "NFKD") return make_unicode_form_normalizer(UnicodeForm::kNfkd);
  if (type == "Lowercase") return make_lowercase_normalizer();
  if (type == "StripAccents") return make_strip_accents_normalizer();
  if (type == "Nmt") return make_nmt_normalizer();
  if (type == "ByteLevel") return make_byte_level_normalizer();
  if (type == "Strip") return make_strip_normalizer(j, path);
  if (type == "Prepend") return make_prepend_normalizer(j, path);
  if (type == "Replace") return make_replace_normalizer(j, path);
  if (type == "BertNormalizer") return make_bert_normalizer(j, path);
  if (type == "Sequence") return make_sequence_normalizer(j, path);
  if (type == "Precompiled") return make_precompiled_normalizer(j, path);
  return json::unknown_type("normalizer", type, path, kSupported);
}

}  // namespace keel::tokenizer
