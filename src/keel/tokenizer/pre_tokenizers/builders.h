// Internal: one builder per pre-tokenizer type (each in its own .cc), used by
// factory.cc's make_pre_tokenizer. Each takes the object's JSON and path.
#pragma once

#include <memory>
#include <string>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/pre_tokenizers/split_util.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

using PreTokenizerPtr = std::unique_ptr<PreTokenizer>;

Result<PreTokenizerPtr> make_split_pre_tokenizer(const json::json& j, const std::string& path);
Result<PreTokenizerPtr> make_byte_level_pre_tokenizer(const json::json& j, const std::string& path,
                                                      const StageOptions& options);
Result<PreTokenizerPtr> make_metaspace_pre_tokenizer(const json::json& j, const std::string& path);
Result<PreTokenizerPtr> make_digits_pre_tokenizer(const json::json& j, const std::string& path);
Result<PreTokenizerPtr> make_punctuation_pre_tokenizer(const json::json& j,
                                                       const std::string& path);
Result<PreTokenizerPtr> make_whitespace_pre_tokenizer(const json::json& j, const std::string& path);
Result<PreTokenizerPtr> make_whitespace_split_pre_tokenizer(const json::json& j,
                                                            const std::string& path);
Result<PreTokenizerPtr> make_bert_pre_tokenizer(const json::json& j, const std::string& path);
Result<PreTokenizerPtr> make_char_delimiter_split_pre_tokenizer(const json::json& j,
                                                                const std::string& path);

// Runs `split(span, text, out)` for every span of `pieces`, replacing the
// spans with what it appends to `out`. `split` must not grow pieces.bytes
// (splitting stages only); rewriting stages manage the arena themselves.
template <typename F>
Status split_each(PieceList& pieces, F&& split) {
  std::vector<Span>& old = split_scratch().spans;
  old.clear();
  old.swap(pieces.spans);
  for (const Span& s : old) {
    KEEL_RETURN_IF_ERROR(split(s, pieces.view(s), pieces.spans));
  }
  return OkStatus();
}

}  // namespace keel::tokenizer
