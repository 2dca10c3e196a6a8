// WordLevel and WordPiece models (HuggingFace semantics).
//
// WordLevel: a piece is one token: its vocab id, else the unk token's id
// (an error if the unk token is not in the vocab either).
// WordPiece: greedy longest-match-first from the left; every non-initial
// sub-word is looked up with continuing_subword_prefix prepended. A piece
// longer than max_input_chars_per_word characters, or one that cannot be
// fully covered, becomes the single unk token.
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

struct WordLevelConfig {
  std::vector<std::pair<std::string, uint32_t>> vocab;
  std::string unk_token = "<unk>";
};

struct WordPieceConfig {
  std::vector<std::pair<std::string, uint32_t>> vocab;
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
};

// Errors: InvalidArgument for a duplicate token or an id >= 2^31.
Result<std::unique_ptr<Model>> make_word_level(WordLevelConfig config);
Result<std::unique_ptr<Model>> make_word_piece(WordPieceConfig config);

}  // namespace keel::tokenizer
