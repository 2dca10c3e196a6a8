#include "keel/tokenizer/sentencepiece/spm_decoder.h"

#include <optional>
#include <string>

#include "keel/core/utf8.h"

namespace keel::tokenizer::spm {
namespace {

std::optional<char> byte_token(std::string_view t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<char>(hi * 16 + lo);
}

// Contract: see spm_decoder.h.
class SpmDecoder final : public Decoder {
 public:
  explicit SpmDecoder(SpmDecoderConfig config) : config_(config) {}

  Status decode_chain(std::vector<std::string>& tokens) const override {
    std::string out;
    std::string bytes;
    size_t num_byte_tokens = 0;
    auto flush_bytes = [&] {
      if (num_byte_tokens == 0) return;
      if (utf8::find_invalid(bytes) == std::string_view::npos) {
        out.append(bytes);
      } else {
        for (size_t i = 0; i < num_byte_tokens; ++i) out.append("\xEF\xBF\xBD");
      }
      bytes.clear();
      num_byte_tokens = 0;
    };
    for (const std::string& t : tokens) {
      if (const auto b = byte_token(t)) {
        bytes.push_back(*b);
        ++num_byte_tokens;
        continue;
      }
      flush_bytes();
      for (size_t i = 0; i < t.size();) {
        if (std::string_view(t).substr(i).starts_with("\xE2\x96\x81")) {
          out.push_back(' ');
          i += 3;
        } else {
          out.push_back(t[i++]);
        }
      }
    }
    flush_bytes();
    if (config_.strip_dummy_prefix && !out.empty()) {
      if (!config_.whitespace_as_suffix && out.front() == ' ') out.erase(0, 1);
      if (config_.whitespace_as_suffix && out.back() == ' ') out.pop_back();
    }
    tokens.clear();
    tokens.push_back(std::move(out));
    return OkStatus();
  }

 private:
  SpmDecoderConfig config_;
};

}  // namespace

std::unique_ptr<Decoder> make_spm_decoder(SpmDecoderConfig config) {
  return std::make_unique<SpmDecoder>(config);
}

}  // namespace keel::tokenizer::spm
