// Fuzzes the tokenizer.json loader, and encode/decode on whatever loads.
// The input is a tokenizer.json document, optionally followed by "\n\0\n"
// and a text to encode.
#include <cstdint>
#include <string_view>

#include "keel/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view json = in, text = "Hello world! 123 héllo";
  if (size_t sep = in.find(std::string_view("\n\0\n", 3)); sep != std::string_view::npos) {
    json = in.substr(0, sep);
    text = in.substr(sep + 3);
  }
  auto tok = keel::tokenizer::Tokenizer::from_json(json);
  if (!tok.ok()) return 0;
  keel::tokenizer::EncodeOptions o;
  o.lossy_utf8 = true;
  auto enc = tok->encode(text, o);
  if (enc.ok()) (void)tok->decode(enc->ids, false);
  return 0;
}
