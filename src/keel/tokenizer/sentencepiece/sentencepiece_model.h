// Loads a SentencePiece tokenizer.model (a serialized ModelProto) into
// TokenizerParts that reproduce libsentencepiece's encoding exactly.
//
// What the parts hold
// - normalizer: SpmNormalizer (the model's precompiled charsmap, longest rule
//   per position, plus remove_extra_whitespaces / add_dummy_prefix /
//   escape_whitespaces / treat_whitespace_as_suffix). USER_DEFINED pieces are
//   left unnormalized, as in libsentencepiece.
// - no pre-tokenizer: libsentencepiece segments the whole normalized text.
// - model: SentencePiece Unigram (Viterbi) or BPE (score-ordered merges),
//   with libsentencepiece's rules: CONTROL/UNKNOWN/BYTE pieces never match
//   text, USER_DEFINED pieces always win, UNUSED pieces are not emitted,
//   unknown characters become byte pieces (byte_fallback) or one unk id per
//   run of unknown characters.
// - added_tokens: the CONTROL and UNKNOWN pieces as special tokens (as HF's
//   LlamaTokenizer does); USER_DEFINED pieces stay in the model, matched in
//   normalized text as libsentencepiece does.
// - decoder: ▁ → ' ', byte pieces → bytes, strip one leading space when
//   add_dummy_prefix is set (HF's Llama decoder).
// - bos/eos from trainer_spec; add_bos_token = true, add_eos_token = false
//   (LlamaTokenizer's defaults; tokenizer_config.json may override).
//
// Errors: DataLoss for a truncated/corrupt file (naming field and offset),
// InvalidArgument for an inconsistent vocabulary, Unimplemented for WORD and
// CHAR models.
#pragma once

#include <string_view>

#include "keel/core/result.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::tokenizer {

Result<TokenizerParts> load_sentencepiece_model(std::string_view bytes);

}  // namespace keel::tokenizer
