// CharsMap: SentencePiece's compiled normalization rules
// (normalizer_spec.precompiled_charsmap; base64 in tokenizer.json).
//
// Blob layout: <uint32 LE trie size in bytes><darts-clone trie units>
// <replacement strings, each NUL-terminated>. A trie key is a source byte
// sequence; its value is the byte offset of its replacement in the strings
// area. An empty blob is the identity map.
//
// Two lookup flavours, because the two reference implementations differ:
//  - longest_rule: libsentencepiece's NormalizePrefix (the longest rule among
//    the first 32 prefix matches; NUL is an ordinary byte);
//  - first_rule: HF spm_precompiled's transform (the shortest matching prefix;
//    the walk stops at a NUL byte).
// Invariants: replacement strings are valid UTF-8 (checked at parse); a
// trie value that points outside them is reported as DataLoss at lookup, so
// a corrupt map never reads out of bounds. Immutable and thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "keel/core/result.h"
#include "keel/tokenizer/sentencepiece/darts.h"

namespace keel::tokenizer::spm {

class CharsMap {
 public:
  // The maximum number of prefix matches libsentencepiece considers.
  static constexpr size_t kMaxTrieResults = 32;

  struct Rule {
    size_t length = 0;             // bytes of input consumed; 0 = no rule
    std::string_view replacement;  // what they become
  };

  static Result<CharsMap> parse(std::string_view blob);

  bool empty() const { return trie_.empty(); }

  Result<Rule> longest_rule(std::string_view input) const;
  // Whether some rule's source starts with byte `c`.
  bool starts_rule(char c) const { return trie_.has_prefix(std::string_view(&c, 1)); }
  Result<std::optional<std::string_view>> first_rule(std::string_view input) const;

 private:
  Result<std::string_view> replacement(uint32_t value) const;

  DartsTrie trie_;
  std::string strings_;
};

}  // namespace keel::tokenizer::spm
