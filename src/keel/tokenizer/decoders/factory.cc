// make_decoder: dispatches a tokenizer.json decoder object to its
// constructor; also the Sequence decoder and the shared field helpers.
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/decoders/decoders.h"
#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/growth_limit.h"
#include "keel/tokenizer/json_util.h"

namespace keel::tokenizer {
namespace {

size_t total_bytes(const std::vector<std::string>& tokens) {
  size_t n = 0;
  for (const std::string& t : tokens) n += t.size();
  return n;
}

// Runs its decoders in order, each on the previous one's tokens. Their total
// size may grow to max_grown_size() of the input's (growth_limit.h).
class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> decoders)
      : decoders_(std::move(decoders)) {}

  Status decode_chain(std::vector<std::string>& tokens) const override {
    const size_t in_bytes = total_bytes(tokens);
    for (const auto& d : decoders_) {
      KEEL_RETURN_IF_ERROR(d->decode_chain(tokens));
      KEEL_RETURN_IF_ERROR(check_growth("decoder Sequence", in_bytes, total_bytes(tokens)));
    }
    return OkStatus();
  }

  // Moves the decoders out (flattening a nested Sequence into its parent).
  std::vector<std::unique_ptr<Decoder>> release() && { return std::move(decoders_); }

 private:
  std::vector<std::unique_ptr<Decoder>> decoders_;
};

constexpr const char* kSupported =
    "BPEDecoder, ByteFallback, ByteLevel, CTC, Fuse, Metaspace, Replace, Sequence, Strip, "
    "WordPiece";

}  // namespace

Result<size_t> get_count(const nlohmann::json& j, const char* key, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const int64_t n, json::get_int(j, key, path));
  if (n < 0) {
    return InvalidArgumentError("{}: expected a non-negative integer, got {}",
                                json::child_path(path, key), n);
  }
  return static_cast<size_t>(n);
}

DecoderResult make_sequence_decoder(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* list, json::get_array(j, "decoders", path));
  std::vector<std::unique_ptr<Decoder>> decoders;
  const std::string list_path = json::child_path(path, "decoders");
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string item_path = json::index_path(list_path, i);
    if ((*list)[i].is_null()) {
      return InvalidArgumentError("{}: expected a decoder object, got null", item_path);
    }
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Decoder> d, make_decoder((*list)[i], item_path));
    // A nested Sequence is spliced in (same result), so the growth bound
    // applies to the whole chain rather than compounding per level.
    if (auto* nested = dynamic_cast<SequenceDecoder*>(d.get())) {
      for (auto& inner : std::move(*nested).release()) decoders.push_back(std::move(inner));
      continue;
    }
    decoders.push_back(std::move(d));
  }
  return std::unique_ptr<Decoder>(std::make_unique<SequenceDecoder>(std::move(decoders)));
}

Result<std::unique_ptr<Decoder>> make_decoder(const nlohmann::json& j, const std::string& path) {
  if (j.is_null()) return std::unique_ptr<Decoder>();
  KEEL_ASSIGN_OR_RETURN(const std::string type, json::get_type(j, path));
  if (type == "ByteLevel") return make_byte_level_decoder(j, path);
  if (type == "Metaspace") return make_metaspace_decoder(j, path);
  if (type == "ByteFallback") return make_byte_fallback_decoder(j, path);
  if (type == "Fuse") return make_fuse_decoder(j, path);
  if (type == "Strip") return make_strip_decoder(j, path);
  if (type == "Replace") return make_replace_decoder(j, path);
  if (type == "WordPiece") return make_word_piece_decoder(j, path);
  if (type == "BPEDecoder") return make_bpe_decoder(j, path);
  if (type == "CTC") return make_ctc_decoder(j, path);
  if (type == "Sequence") return make_sequence_decoder(j, path);
  return json::unknown_type("decoder", type, path, kSupported);
}

}  // namespace keel::tokenizer
