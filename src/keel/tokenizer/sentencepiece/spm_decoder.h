// SpmDecoder: the decoder HF builds for SentencePiece models (LlamaTokenizer),
// Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]:
// ▁ becomes a space; a run of "<0xXX>" tokens becomes its bytes if they are
// valid UTF-8, else one U+FFFD per token; all tokens are joined; one leading
// space is stripped (one trailing space instead when whitespace is a suffix;
// nothing when the model adds no dummy prefix). Immutable, thread-safe.
#pragma once

#include <memory>

#include "keel/tokenizer/stages.h"

namespace keel::tokenizer::spm {

struct SpmDecoderConfig {
  bool strip_dummy_prefix = true;
  bool whitespace_as_suffix = false;
};

std::unique_ptr<Decoder> make_spm_decoder(SpmDecoderConfig config);

}  // namespace keel::tokenizer::spm
