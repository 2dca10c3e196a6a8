#include "keel/tokenizer/sentencepiece/sentencepiece_model.h"

#include "keel/tokenizer/sentencepiece/model_proto.h"

namespace keel::tokenizer {

Result<TokenizerParts> load_sentencepiece_model(std::string_view bytes) {
  KEEL_ASSIGN_OR_RETURN(spm::ModelProto proto, spm::parse_model_proto(bytes));
  (void)proto;
  return UnimplementedError("sentencepiece model loading is being written");
}

}  // namespace keel::tokenizer
