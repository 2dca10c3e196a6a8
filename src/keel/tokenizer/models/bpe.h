// BPE model (HuggingFace `models::bpe::BPE` semantics, deterministic only).
//
// Concepts
// - A piece is split into initial symbols: its UTF-8 characters, or its single
//   bytes in byte-level mode (`byte_level_raw`). Symbols not in the vocab
//   become `<0xAB>` byte tokens (byte_fallback), the unk token (fused runs if
//   fuse_unk), or are dropped when there is no unk token — as HF does.
// - Merges are applied lowest rank first; among equal ranks the leftmost pair
//   wins. Ranks may repeat (SentencePiece score-based BPE maps every split of
//   a piece into two vocab pieces to a merge ranked by the piece's score).
// - continuing_subword_prefix is prepended to every non-initial symbol and
//   end_of_word_suffix appended to the last one before lookup, as in HF.
// - ignore_merges: a piece found whole in the vocab is emitted as one token.
//   Without it, a whole-piece shortcut is still taken for vocab entries that
//   the merges provably rebuild from their own symbols ("self-reachable",
//   computed at load), so the shortcut never changes a result.
// - Byte-level mode: vocab entries and merges are converted at load from the
//   GPT-2 byte-to-unicode alphabet to raw bytes; pieces arrive as raw bytes.
//   Entries with characters outside the alphabet stay reachable only through
//   token_to_id/id_to_token, which always use the original strings.
// Thread-safety: immutable after construction; tokenize() uses thread_local
// scratch buffers and cache only.
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

struct BpeMerge {
  std::string left, right;  // vocab strings (tokenizer.json form)
  uint32_t rank;            // lower merges first; equal ranks: leftmost first
};

struct BpeConfig {
  // token string (tokenizer.json form) → id. Ids need not be contiguous.
  std::vector<std::pair<std::string, uint32_t>> vocab;
  std::vector<BpeMerge> merges;
  std::optional<std::string> unk_token;
  bool byte_fallback = false, fuse_unk = false, ignore_merges = false, byte_level_raw = false;
  std::string continuing_subword_prefix, end_of_word_suffix;
};

// Errors: InvalidArgument for a duplicate token string, an id >= 2^31, or a
// merge whose left, right or merged string is not in the vocab (as HF). Like
// HF, an unk_token missing from the vocab is only an error when tokenize()
// meets an unknown symbol.
Result<std::unique_ptr<Model>> make_bpe(BpeConfig config);

}  // namespace keel::tokenizer
