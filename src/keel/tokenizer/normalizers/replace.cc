// The Replace normalizer: every match of a String or Regex pattern becomes
// `content`.
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "keel/tokenizer/growth_limit.h"
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

  // HF's NormalizedString::replace: each match becomes `content`, whose
  // characters are all inserted after the removed match, so they take the
  // alignment of the match's last byte (of the byte before an empty match;
  // an empty range at the very start). Built in one pass: each replacement
  // only looks at what precedes it.
  Status normalize_aligned(AlignedString& s) const override {
    if (s.text.empty()) return OkStatus();
    std::vector<RegexMatch> matches;
    KEEL_RETURN_IF_ERROR(pattern_.find_matches(s.text, matches));
    if (matches.empty()) return OkStatus();
    KEEL_RETURN_IF_ERROR(check_growth(
        pattern_.describe(), s.text.size(),
        ReplacePattern::replaced_size(s.text.size(), matches, content_.size())));
    std::string out;
    std::vector<Alignment> out_align;
    out.reserve(s.text.size());
    out_align.reserve(s.text.size());
    size_t pos = 0;
    for (const RegexMatch& m : matches) {
      out.append(s.text, pos, m.begin - pos);
      out_align.insert(out_align.end(), s.align.begin() + static_cast<std::ptrdiff_t>(pos),
                       s.align.begin() + static_cast<std::ptrdiff_t>(m.begin));
      Alignment a{s.orig_begin, s.orig_begin};
      if (m.end > m.begin) {
        a = s.align[m.end - 1];
      } else if (!out_align.empty()) {
        a = out_align.back();
      }
      out.append(content_);
      out_align.insert(out_align.end(), content_.size(), a);
      pos = m.end;
    }
    out.append(s.text, pos, std::string::npos);
    out_align.insert(out_align.end(), s.align.begin() + static_cast<std::ptrdiff_t>(pos),
                     s.align.end());
    s.text = std::move(out);
    s.align = std::move(out_align);
    return OkStatus();
  }

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
