#include "keel/tokenizer/sentencepiece/sentencepiece_model.h"

#include "keel/tokenizer/sentencepiece/model_proto.h"
#include "keel/tokenizer/sentencepiece/spm_decoder.h"
#include "keel/tokenizer/sentencepiece/spm_models.h"
#include "keel/tokenizer/sentencepiece/spm_normalizer.h"

namespace keel::tokenizer {
namespace {

// The piece named by trainer_spec (bos/eos), if its id is enabled and the
// piece exists.
std::optional<std::string> special_piece(int32_t id, const std::string& piece,
                                         const spm::SpmVocab& vocab) {
  if (id < 0 || !vocab.find(piece)) return std::nullopt;
  return piece;
}

}  // namespace

Result<TokenizerParts> load_sentencepiece_model(std::string_view bytes) {
  KEEL_ASSIGN_OR_RETURN(spm::ModelProto proto, spm::parse_model_proto(bytes));
  if (proto.pieces.empty()) {
    return InvalidArgumentError("sentencepiece model has no pieces (is this a tokenizer.model?)");
  }
  KEEL_ASSIGN_OR_RETURN(spm::SpmVocab built, spm::SpmVocab::build(proto));
  auto vocab = std::make_shared<const spm::SpmVocab>(std::move(built));

  const spm::TrainerSpec& trainer = proto.trainer_spec;
  const spm::NormalizerSpec& norm = proto.normalizer_spec;
  TokenizerParts parts;
  switch (trainer.model_type) {
    case spm::ModelType::kUnigram:
      parts.model = spm::make_spm_unigram(vocab);
      break;
    case spm::ModelType::kBpe:
      parts.model = spm::make_spm_bpe(vocab);
      break;
    case spm::ModelType::kWord:
    case spm::ModelType::kChar:
      return UnimplementedError("sentencepiece model_type {} (WORD/CHAR) is not supported; keel "
                                "supports UNIGRAM and BPE",
                                static_cast<int>(trainer.model_type));
  }

  auto charsmap = spm::CharsMap::parse(norm.precompiled_charsmap);
  if (!charsmap.ok()) {
    return charsmap.status().with_context("sentencepiece model: normalizer_spec");
  }
  spm::SpmNormalizerConfig nc;
  nc.charsmap = std::move(charsmap).value();
  nc.vocab = vocab;
  nc.add_dummy_prefix = norm.add_dummy_prefix;
  nc.remove_extra_whitespaces = norm.remove_extra_whitespaces;
  nc.escape_whitespaces = norm.escape_whitespaces;
  nc.treat_whitespace_as_suffix = trainer.treat_whitespace_as_suffix;
  parts.normalizer = spm::make_spm_normalizer(std::move(nc));

  parts.decoder = spm::make_spm_decoder(spm::SpmDecoderConfig{
      norm.add_dummy_prefix, trainer.treat_whitespace_as_suffix});

  for (uint32_t id = 0; id < vocab->size(); ++id) {
    const spm::PieceType type = vocab->type(id);
    if (type != spm::PieceType::kControl && type != spm::PieceType::kUnknown) continue;
    AddedToken t;
    t.id = id;
    t.content = vocab->piece(id);
    t.special = true;
    parts.added_tokens.push_back(std::move(t));
  }
  parts.bos_token = special_piece(trainer.bos_id, trainer.bos_piece, *vocab);
  parts.eos_token = special_piece(trainer.eos_id, trainer.eos_piece, *vocab);
  parts.add_bos_token = parts.bos_token.has_value();
  parts.add_eos_token = false;
  return parts;
}

}  // namespace keel::tokenizer
