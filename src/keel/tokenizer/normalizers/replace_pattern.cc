#include "keel/tokenizer/normalizers/replace_pattern.h"

#include <nlohmann/json.hpp>

#include "keel/tokenizer/growth_limit.h"
#include "keel/tokenizer/json_util.h"

namespace keel::tokenizer {

Result<ReplacePattern> ReplacePattern::parse(const nlohmann::json& j, const std::string& path) {
  if (!j.is_object() || j.size() != 1) {
    return InvalidArgumentError(
        "{}: expected an object with exactly one of \"String\" or \"Regex\", got {}", path,
        j.dump());
  }
  ReplacePattern p;
  if (j.contains("String")) {
    KEEL_ASSIGN_OR_RETURN(p.literal_, json::get_string(j, "String", path));
    if (p.literal_.empty()) {
      KEEL_ASSIGN_OR_RETURN(Regex r, Regex::compile_literal(p.literal_));
      p.regex_ = std::move(r);
    }
    return p;
  }
  if (j.contains("Regex")) {
    KEEL_ASSIGN_OR_RETURN(std::string pattern, json::get_string(j, "Regex", path));
    Result<Regex> r = Regex::compile(pattern);
    if (!r.ok()) return r.status().with_context(json::child_path(path, "Regex"));
    p.regex_ = std::move(r).value();
    p.is_regex_ = true;
    return p;
  }
  return InvalidArgumentError("{}: unknown pattern kind '{}' (expected \"String\" or \"Regex\")",
                              path, j.begin().key());
}

Status ReplacePattern::find_matches(std::string_view text, std::vector<RegexMatch>& out) const {
  out.clear();
  if (regex_) return regex_->find_all(text, out);
  for (size_t pos = 0;;) {
    const size_t hit = text.find(literal_, pos);
    if (hit == std::string_view::npos) break;
    out.push_back(RegexMatch{hit, hit + literal_.size()});
    pos = hit + literal_.size();
  }
  return OkStatus();
}

std::string ReplacePattern::describe() const {
  return is_regex_ ? fmt::format("Replace of Regex '{}'", regex_->pattern())
                   : fmt::format("Replace of String '{}'", literal_);
}

size_t ReplacePattern::replaced_size(size_t text_bytes, std::span<const RegexMatch> matches,
                                     size_t content_bytes) {
  size_t out = text_bytes;
  for (const RegexMatch& m : matches) out = out - (m.end - m.begin) + content_bytes;
  return out;
}

Status ReplacePattern::replace_all(std::string_view text, std::string_view content,
                                   std::string& out) const {
  const size_t limit = max_grown_size(text.size());
  const size_t base = out.size();
  if (!regex_) {
    size_t pos = 0;
    for (;;) {
      const size_t hit = text.find(literal_, pos);
      if (hit == std::string_view::npos) break;
      out.append(text.substr(pos, hit - pos));
      out.append(content);
      pos = hit + literal_.size();
      if (out.size() - base > limit) {  // checked as it goes: no extra pass on the hot path
        size_t total = out.size() - base;  // count the rest for the error message
        for (size_t h; (h = text.find(literal_, pos)) != std::string_view::npos;) {
          total += h - pos + content.size();
          pos = h + literal_.size();
        }
        out.resize(base);
        return check_growth(describe(), text.size(), total + (text.size() - pos));
      }
    }
    out.append(text.substr(pos));
    return OkStatus();
  }
  KEEL_ASSIGN_OR_RETURN(const std::vector<RegexMatch> matches, regex_->find_all(text));
  KEEL_RETURN_IF_ERROR(
      check_growth(describe(), text.size(), replaced_size(text.size(), matches, content.size())));
  size_t pos = 0;
  for (const RegexMatch& m : matches) {
    out.append(text.substr(pos, m.begin - pos));
    out.append(content);
    pos = m.end;
  }
  out.append(text.substr(pos));
  return OkStatus();
}

}  // namespace keel::tokenizer
