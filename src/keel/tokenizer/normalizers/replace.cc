// The Replace normalizer: every match of a String or Regex pattern becomes
// `content`.
#include <nlohmann/json.hpp>

#include <memory>

#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/normalizers/normalizers.h"
#include "keel/tokenizer/normalizers/replace_pattern.h"

namespace keel::tokenizer {
namespace {

// Replaces all matches of `pattern_` with `content_`. Empty text stays empty
// (HF does not match against an empty string).
class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(ReplacePattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    if (in.empty()) return OkStatus();
    out.reserve(in.size());
    return pattern_.replace_all(in, content_, out);
  }

 private:
  ReplacePattern pattern_;
  std::string content_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> make_replace_normalizer(const nlohmann::json& j,
                                                            const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* pattern_json, json::get_object(j, "pattern", path));
  KEEL_ASSIGN_OR_RETURN(ReplacePattern pattern,
                        ReplacePattern::parse(*pattern_json, json::child_path(path, "pattern")));
  KEEL_ASSIGN_OR_RETURN(std::string content, json::get_string(j, "content", path));
  return std::unique_ptr<Normalizer>(
      std::make_unique<ReplaceNormalizer>(std::move(pattern), std::move(content)));
}

}  // namespace keel::tokenizer
