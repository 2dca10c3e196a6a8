// Regex: a compiled tokenizer.json pattern, matched with PCRE2.
//
// Concepts
// - Patterns in tokenizer.json are written for Oniguruma (HF tokenizers'
//   SysRegex, Ruby syntax, Unicode 16). compile() translates what PCRE2 reads
//   differently: \s \S \w \W \d \D \b \B and \p{L} \p{N} (also \P{..} and
//   Oniguruma's \p{^..}) are spelled out from keel's reference-generated
//   tables (pre_tokenizers/unicode_props.h), so they match exactly what HF
//   matches whatever PCRE2's Unicode version; \h \H are hex digits; (?m) is
//   PCRE2's (?s); ^ and $ are line anchors. Not translated (rare): \S, \W,
//   \D and negated properties inside a bracket class, and other \p{..}
//   properties (PCRE2's tables). Compiled with PCRE2_UTF | PCRE2_UCP, JIT when
//   available (the interpreter otherwise, or when the JIT stack runs out).
// - `{"String": "..."}` patterns are literals: compile_literal(s) is
//   compile(escape(s)), as HF compiles them to an escaped regex.
// - find_all() reproduces HF's iteration (onig's find_iter): matches are
//   non-overlapping, left to right; an empty match right where the previous
//   match ended is skipped by advancing one character.
// - Subjects must be valid UTF-8 (the tokenizer validates input first);
//   matching is done with PCRE2_NO_UTF_CHECK.
// Thread-safety: a Regex is immutable; all methods may be called from many
// threads at once (match data and JIT stacks are thread-local). Copies are
// cheap and share the compiled code.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"

namespace keel::tokenizer {

// A match as a byte range [begin, end) of the subject.
struct RegexMatch {
  size_t begin = 0;
  size_t end = 0;
  friend bool operator==(const RegexMatch&, const RegexMatch&) = default;
};

class Regex {
 public:
  // Compiles an Oniguruma-style pattern. InvalidArgument (with PCRE2's
  // message and the pattern offset) if it does not compile.
  static Result<Regex> compile(std::string_view pattern);
  // Compiles a pattern that matches `literal` exactly.
  static Result<Regex> compile_literal(std::string_view literal);
  // A pattern that matches `literal` exactly (every ASCII punctuation and
  // space character backslash-escaped; other bytes kept).
  static std::string escape(std::string_view literal);

  // The first match starting at or after byte `start` (lookbehind may look
  // before `start`); nullopt if none. Internal on a PCRE2 resource error.
  Result<std::optional<RegexMatch>> find(std::string_view text, size_t start = 0) const;
  // Appends all matches (HF/onig find_iter semantics, see above) to `out`.
  Status find_all(std::string_view text, std::vector<RegexMatch>& out) const;
  Result<std::vector<RegexMatch>> find_all(std::string_view text) const;

  // The pattern as given to compile() (before translation).
  const std::string& pattern() const;
  // The pattern actually compiled by PCRE2.
  const std::string& translated_pattern() const;
  bool jit() const;

  struct Impl;

 private:
  explicit Regex(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Translates Oniguruma syntax into the PCRE2 equivalent (exposed for tests).
Result<std::string> translate_oniguruma(std::string_view pattern);

}  // namespace keel::tokenizer
