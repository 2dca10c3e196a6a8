// Scanner: a hand-written matcher for one well-known Split regex.
//
// Real tokenizers split text with a handful of fixed patterns (GPT-2,
// cl100k/Llama-3, Qwen2). Running them through PCRE2 dominates encode time,
// so make_scanner() recognises those exact pattern strings and returns a
// scanner that yields exactly the matches Regex::find_all() would (proven by
// the differential tests in tests/tokenizer/scanner_test.cc), using keel's
// Unicode tables (unicode_props.h) and an ASCII fast path.
//
// Contract: scan(text, out) appends the matches of the pattern over `text`
// (valid UTF-8; invalid bytes never cause out-of-bounds reads) to `out`, with
// HF/Oniguruma find_iter semantics.
// Thread-safety: scanners are immutable and stateless; scan() may run on many
// threads at once.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "keel/tokenizer/pieces.h"
#include "keel/tokenizer/regex.h"

namespace keel::tokenizer {

// GPT-2 (ByteLevel use_regex).
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// cl100k / Llama-3.
inline constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2 / Qwen3: as Llama-3 but one digit per match.
inline constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class Scanner {
 public:
  virtual ~Scanner() = default;
  virtual void scan(std::string_view text, std::vector<RegexMatch>& out) const = 0;
  // The matches of scan(text) as sub-spans of `span` (whose bytes are
  // `text`), appended to `out`: Split's Isolated behaviour in one pass, as
  // the known patterns' matches tile the text.
  virtual void scan_spans(std::string_view text, const Span& span,
                          std::vector<Span>& out) const = 0;
  // A short name for logs and benchmarks ("gpt2", "llama3", "qwen2").
  virtual std::string_view name() const = 0;
};

// A scanner for `pattern` if it is one keel knows, else nullptr.
std::unique_ptr<Scanner> make_scanner(std::string_view pattern);

}  // namespace keel::tokenizer
