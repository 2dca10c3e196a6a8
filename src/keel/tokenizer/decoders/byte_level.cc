// The ByteLevel decoder: GPT-2 alphabet characters back to bytes.
#include <nlohmann/json.hpp>

#include <memory>

#include "keel/core/utf8.h"
#include "keel/tokenizer/decoders/decoders.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/pre_tokenizers/byte_level_alphabet.h"

namespace keel::tokenizer {
namespace {

// Joins all tokens into one. A token made only of alphabet characters becomes
// the bytes they stand for; any other token is kept as its own UTF-8 bytes
// (as HF does, per token). The joined bytes are then made valid UTF-8 with
// Rust's from_utf8_lossy rules. Immutable; thread-safe.
class ByteLevelDecoder final : public Decoder {
 public:
  Status decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    size_t total = 0;
    for (const std::string& t : tokens) total += t.size();
    bytes.reserve(total);
    for (const std::string& t : tokens) {
      const size_t mark = bytes.size();
      size_t i = 0;
      bool all_mapped = true;
      while (i < t.size()) {
        const utf8::Decoded d = utf8::decode(t, i);
        const std::optional<uint8_t> b =
            d.valid ? byte_level::char_to_byte(d.code_point) : std::nullopt;
        if (!b) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(*b));
        i += d.length;
      }
      if (!all_mapped) {
        bytes.resize(mark);
        bytes.append(t);
      }
    }
    tokens.assign(1, utf8::find_invalid(bytes) == std::string::npos
                         ? std::move(bytes)
                         : utf8::to_valid_lossy(bytes));
    return OkStatus();
  }
};

}  // namespace

DecoderResult make_byte_level_decoder(const nlohmann::json& j, const std::string& path) {
  // Encode-side options; HF requires the first two even for decoding.
  KEEL_RETURN_IF_ERROR(json::get_bool(j, "add_prefix_space", path));
  KEEL_RETURN_IF_ERROR(json::get_bool(j, "trim_offsets", path));
  KEEL_RETURN_IF_ERROR(json::opt_bool(j, "use_regex", path, true));
  return std::unique_ptr<Decoder>(std::make_unique<ByteLevelDecoder>());
}

}  // namespace keel::tokenizer
