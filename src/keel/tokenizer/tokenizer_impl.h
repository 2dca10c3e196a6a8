// Tokenizer::Impl: the loaded, immutable state behind a Tokenizer handle.
// Internal to the tokenizer module.
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "keel/tokenizer/added_tokens.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::tokenizer {

struct Tokenizer::Impl {
  // Takes the parts, validates them and builds the added-token matchers.
  static Result<std::shared_ptr<const Impl>> create(TokenizerParts parts);

  TokenizerParts parts;
  // Added tokens matched on raw text (normalized=false) and on normalized
  // text (normalized=true, content normalized like the text).
  std::vector<AddedToken> normalized_tokens;
  std::unique_ptr<AddedTokenSplitter> raw_splitter;
  std::unique_ptr<AddedTokenSplitter> normalized_splitter;
  std::unordered_map<std::string, uint32_t> added_by_content;
  std::unordered_map<uint32_t, size_t> added_by_id;  // index into parts.added_tokens
  std::unordered_set<std::string> special_contents;
  size_t vocab_size = 0;
  // A normalizer and a pre-tokenizer that looks at original offsets: encode
  // tracks alignments (the offsets path) to get them exactly as HF.
  bool needs_alignments = false;
  std::optional<uint32_t> bos_id, eos_id;

  // Encodes one stretch of text that holds no added token.
  Status encode_plain(std::string_view text, uint32_t orig_begin, uint32_t orig_end,
                      std::vector<uint32_t>& ids) const;
  // Normalizes and encodes one stretch of raw text between added tokens.
  Status encode_segment(std::string_view text, uint32_t orig_begin, bool split_special,
                        std::vector<uint32_t>& ids) const;
  Status add_special_tokens(std::vector<uint32_t>& ids) const;

  // Offsets mode (encode_offsets.cc): the same ids as encode(), with each
  // token's byte range in `text` computed as HF tokenizers does.
  Result<Encoding> encode_with_offsets(std::string_view text, const EncodeOptions& options) const;
  struct OffsetsOutput;
  Status encode_segment_offsets(std::string_view text, uint32_t orig_begin, bool split_special,
                                OffsetsOutput& out) const;
  Status encode_plain_offsets(const AlignedString& normalized, size_t begin, size_t end,
                              uint32_t orig_begin, uint32_t orig_end, OffsetsOutput& out) const;
};

}  // namespace keel::tokenizer
