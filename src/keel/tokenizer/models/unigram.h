// Unigram model (HuggingFace `models::unigram::Unigram` semantics).
//
// Concepts
// - Pieces with log-probability scores; id = index in `pieces`.
// - Encoding is Viterbi over a trie of the pieces: the segmentation with the
//   highest total score. A character no piece starts with is covered by the
//   unk id with score (min score - 10), as HF does; consecutive unknown
//   characters are fused into one unk token.
// - byte_fallback: an unk token is instead emitted as the `<0xAB>` tokens of
//   its UTF-8 bytes (when all of them are in the vocab).
// Thread-safety: immutable after construction; scratch buffers are
// thread_local.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

struct UnigramConfig {
  std::vector<std::pair<std::string, double>> pieces;  // (piece, score); id = index
  std::optional<uint32_t> unk_id;
  bool byte_fallback = false;
};

// Errors: InvalidArgument for an unk_id out of range, or an empty vocab with
// an unk_id.
Result<std::unique_ptr<Model>> make_unigram(UnigramConfig config);

}  // namespace keel::tokenizer
