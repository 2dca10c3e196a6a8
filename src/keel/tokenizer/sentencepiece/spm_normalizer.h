// SpmNormalizer: libsentencepiece's Normalizer::Normalize as a keel stage.
//
// At each position the longest matching prefix is rewritten: a USER_DEFINED
// piece is kept verbatim, else the charsmap's longest rule applies, else one
// character is copied (an ill-formed byte becomes U+FFFD). Around that:
// - remove_extra_whitespaces: drop leading spaces, spaces that follow a
//   space in the output, and trailing spaces;
// - add_dummy_prefix: one space before the text (after it when
//   treat_whitespace_as_suffix), unless the text is empty or all spaces;
// - escape_whitespaces: every output ' ' becomes U+2581 ("▁").
// Immutable and thread-safe.
#pragma once

#include <memory>

#include "keel/tokenizer/sentencepiece/charsmap.h"
#include "keel/tokenizer/sentencepiece/spm_vocab.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer::spm {

struct SpmNormalizerConfig {
  CharsMap charsmap;
  std::shared_ptr<const SpmVocab> vocab;  // for USER_DEFINED pieces; may be null
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  bool treat_whitespace_as_suffix = false;
};

std::unique_ptr<Normalizer> make_spm_normalizer(SpmNormalizerConfig config);

}  // namespace keel::tokenizer::spm
