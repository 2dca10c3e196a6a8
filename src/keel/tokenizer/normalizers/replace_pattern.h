// ReplacePattern: the {"String": "..."} / {"Regex": "..."} pattern of the
// Replace normalizer and decoder, with HF's replace-all semantics (matches
// are non-overlapping, left to right; empty matches as onig's find_iter).
// Immutable after construction; thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/regex.h"

namespace keel::tokenizer {

class ReplacePattern {
 public:
  // Parses the object at `path` (exactly one of "String" or "Regex").
  static Result<ReplacePattern> parse(const nlohmann::json& j, const std::string& path);

  // Appends `text` with every match replaced by `content` to `out`.
  // ResourceExhausted if that would grow `text` past max_grown_size() (see
  // growth_limit.h).
  Status replace_all(std::string_view text, std::string_view content, std::string& out) const;
  // The matches replace_all() replaces, in order (into `out`, cleared first).
  Status find_matches(std::string_view text, std::vector<RegexMatch>& out) const;
  // "Replace of String '...'" / "Replace of Regex '...'", for errors.
  std::string describe() const;
  // The size of a `text_bytes` text once `matches` become `content_bytes` each.
  static size_t replaced_size(size_t text_bytes, std::span<const RegexMatch> matches,
                              size_t content_bytes);

 private:
  ReplacePattern() = default;
  // A non-empty String pattern is searched for directly; everything else
  // (Regex, empty String) goes through the regex engine.
  std::string literal_;
  std::optional<Regex> regex_;
  bool is_regex_ = false;  // {"Regex": ...} (an empty String also uses regex_)
};

}  // namespace keel::tokenizer
