// AddedTokenSplitter: finds added tokens (special and user-added) in text,
// exactly as HF tokenizers' AddedVocabulary::find_matches does.
//
// Matching is leftmost-longest over all token contents with a byte trie
// (one automaton for thousands of tokens; a first-byte bitmap skips text that
// cannot start a token, memchr when all tokens share their first byte). After each match, single_word / lstrip / rstrip are
// applied with Unicode \w and \s as Rust's regex crate defines them. A match
// rejected by single_word still consumes its bytes, as in HF.
// Immutable after construction; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "keel/tokenizer/tokenizer.h"

namespace keel::tokenizer {

struct TextSplit {
  uint32_t begin = 0;
  uint32_t end = 0;
  std::optional<uint32_t> token_id;  // set when the split is an added token
};

class AddedTokenSplitter {
 public:
  // `tokens` are matched by their `content` as given (callers pass the
  // normalized content for normalized tokens).
  explicit AddedTokenSplitter(const std::vector<const AddedToken*>& tokens);

  bool empty() const { return nodes_.size() <= 1; }

  // Splits `text` into alternating plain and added-token ranges covering it.
  // Empty text gives no splits.
  // With `skip_special`, matches of special tokens are ignored (their text
  // stays in the surrounding plain split), as HF's encode_special_tokens.
  void split(std::string_view text, std::vector<TextSplit>& out, bool skip_special = false) const;

 private:
  struct Node {
    // Sorted children by byte, stored in edges_[first_edge, first_edge+num_edges).
    uint32_t first_edge = 0;
    uint16_t num_edges = 0;
    int32_t token = -1;  // index into tokens_ if a token ends here
  };
  struct Edge {
    uint8_t byte;
    uint32_t child;
  };
  // Longest token starting at `pos`: (token index, length) or token -1.
  std::pair<int32_t, uint32_t> longest_at(std::string_view text, size_t pos) const;

  std::vector<const AddedToken*> tokens_;
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  bool first_byte_[256] = {};
  int only_first_byte_ = -1;  // the one byte all tokens start with, or -1
};

// Unicode classes as Rust's regex crate defines \w and \s (used for lstrip,
// rstrip and single_word).
bool is_rust_word_char(char32_t c);
bool is_rust_whitespace(char32_t c);

}  // namespace keel::tokenizer
