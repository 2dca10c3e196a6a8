// The tokenizer pipeline's stage interfaces, as in HuggingFace tokenizers:
//
//   text ─► added-token split ─► Normalizer ─► PreTokenizer ─► Model ─► PostProcessor ─► ids
//   ids ─► Model::id_to_token ─► Decoder ─► text
//
// Each stage is immutable after construction and safe to call from many
// threads at once (any cache is thread-local). Stages are built from their
// tokenizer.json object by the factories in factories.h; every factory
// receives the JSON path of the object (e.g. "$.pre_tokenizer.pretokenizers[1]")
// so errors can name it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/alignment.h"
#include "keel/tokenizer/pieces.h"

namespace keel::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Normalizes valid UTF-8 `in` into `out` (cleared first).
  virtual Status normalize(std::string_view in, std::string& out) const = 0;
  // The same rewrite on `s` in place, keeping its alignments as HF's
  // NormalizedString does (offsets mode only). `s.text` ends up equal to
  // what normalize() gives.
  virtual Status normalize_aligned(AlignedString& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces.spans` with a finer (or rewritten) split. Splitting
  // emits spans over existing arena bytes; rewriting appends to the arena
  // (and, when pieces.aligned, one Alignment per appended byte).
  virtual Status pre_tokenize(PieceList& pieces) const = 0;
  // True if the result depends on where a piece starts in the original text
  // (Metaspace's prepend_scheme "first"). That is exact only from alignments
  // once a normalizer ran, so the tokenizer then always tracks them.
  virtual bool uses_original_start() const { return false; }
};

// A token's byte range within the piece it was tokenized from.
struct TokenRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of one pre-tokenized piece to `ids`.
  virtual Status tokenize(std::string_view piece, std::vector<uint32_t>& ids) const = 0;
  // tokenize() on each non-empty span of `pieces` in order (the same ids).
  // A model may override it to overlap the table lookups of neighbouring
  // pieces, which are bound by memory latency.
  virtual Status tokenize_pieces(const PieceList& pieces, std::vector<uint32_t>& ids) const {
    for (const Span& s : pieces.spans) {
      if (s.length != 0) KEEL_RETURN_IF_ERROR(tokenize(pieces.view(s), ids));
    }
    return OkStatus();
  }
  // As tokenize() (same ids), also appending each token's range in `piece`
  // as HF's model reports it (e.g. every byte-fallback token of a character
  // covers that character). A range that ends past the piece is one HF
  // cannot map back (a BPE word longer than its piece); it is reported
  // as is, as HF does.
  virtual Status tokenize_with_offsets(std::string_view piece, std::vector<uint32_t>& ids,
                                       std::vector<TokenRange>& ranges) const = 0;
  // Vocabulary lookups in the tokenizer.json string form (e.g. byte-level
  // "Ġthe"), which is what decoders expect.
  virtual std::optional<uint32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string_view> id_to_token(uint32_t id) const = 0;
  // Number of ids the model itself defines (added tokens may extend it).
  virtual size_t vocab_size() const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // HF's decode_chain: rewrites the token strings in place; the caller joins
  // them. May change the number of tokens (e.g. Fuse).
  virtual Status decode_chain(std::vector<std::string>& tokens) const = 0;
};

// What post-processing adds around a sequence (TemplateProcessing etc.).
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Number of special ids added to a single sequence.
  virtual size_t added_tokens_single() const = 0;
  // Adds the special tokens of a single sequence to `ids` (and, when
  // `offsets` is non-null, (0,0) offsets for them).
  virtual Status process_single(std::vector<uint32_t>& ids,
                                std::vector<std::pair<uint32_t, uint32_t>>* offsets) const = 0;
};

}  // namespace keel::tokenizer
