// Fuzzes the SentencePiece tokenizer.model (protobuf) loader: it must never
// read out of bounds or crash, only return DataLoss/InvalidArgument.
#include <cstdint>
#include <string_view>

#include "keel/tokenizer/sentencepiece/sentencepiece_model.h"
#include "keel/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parts = keel::tokenizer::load_sentencepiece_model(bytes);
  if (!parts.ok()) return 0;
  auto tok = keel::tokenizer::Tokenizer::from_parts(std::move(parts).value());
  if (!tok.ok()) return 0;
  keel::tokenizer::EncodeOptions o;
  o.lossy_utf8 = true;
  auto enc = tok->encode("Hello world ▁ 日本 \xF0\x9F\x98\x80 <s>", o);
  if (enc.ok()) (void)tok->decode(enc->ids, false);
  return 0;
}
