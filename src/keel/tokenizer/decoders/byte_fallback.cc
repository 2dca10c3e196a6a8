// ByteFallback and Fuse decoders.
#include <nlohmann/json.hpp>

#include <memory>

#include "keel/core/utf8.h"
#include "keel/tokenizer/decoders/decoders.h"

namespace keel::tokenizer {
namespace {

// The byte of a "<0xAB>" token, parsed as HF does (Rust's u8::from_str_radix
// on the two characters, which also takes a leading '+').
std::optional<uint8_t> parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int lo = digit(t[4]);
  if (lo < 0) return std::nullopt;
  if (t[3] == '+') return static_cast<uint8_t>(lo);
  const int hi = digit(t[3]);
  if (hi < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

// Runs of "<0xAB>" tokens become the text they encode, as one token; a run
// that is not valid UTF-8 becomes one U+FFFD per byte token (HF's rule).
// Other tokens pass through. Immutable; thread-safe.
class ByteFallbackDecoder final : public Decoder {
 public:
  Status decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    size_t run_tokens = 0;
    auto flush = [&] {
      if (run_tokens == 0) return;
      if (utf8::find_invalid(run) == std::string::npos) {
        out.push_back(std::move(run));
      } else {
        for (size_t k = 0; k < run_tokens; ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      run.clear();
      run_tokens = 0;
    };
    for (std::string& t : tokens) {
      if (const std::optional<uint8_t> b = parse_byte_token(t)) {
        run.push_back(static_cast<char>(*b));
        ++run_tokens;
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens.swap(out);
    return OkStatus();
  }
};

// Joins all tokens into one.
class FuseDecoder final : public Decoder {
 public:
  Status decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const std::string& t : tokens) joined.append(t);
    tokens.assign(1, std::move(joined));
    return OkStatus();
  }
};

}  // namespace

DecoderResult make_byte_fallback_decoder(const nlohmann::json&, const std::string&) {
  return std::unique_ptr<Decoder>(std::make_unique<ByteFallbackDecoder>());
}

DecoderResult make_fuse_decoder(const nlohmann::json&, const std::string&) {
  return std::unique_ptr<Decoder>(std::make_unique<FuseDecoder>());
}

}  // namespace keel::tokenizer
