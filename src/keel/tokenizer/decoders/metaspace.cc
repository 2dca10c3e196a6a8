// The Metaspace decoder: the replacement character (usually '▁') back to ' '.
#include <nlohmann/json.hpp>

#include <memory>

#include "keel/core/utf8.h"
#include "keel/tokenizer/decoders/decoders.h"
#include "keel/tokenizer/json_util.h"

namespace keel::tokenizer {
namespace {

// Every replacement character becomes ' ', except in the first token, where
// all of them are dropped unless prepend_scheme is "never" (HF's rule: the
// encoder prepended one there). Immutable; thread-safe.
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool strip_first)
      : strip_first_(strip_first) {
    utf8::append(replacement_, replacement);
  }

  Status decode_chain(std::vector<std::string>& tokens) const override {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string& t = tokens[i];
      if (t.find(replacement_) == std::string::npos) continue;
      const std::string_view with = (i == 0 && strip_first_) ? std::string_view() : " ";
      out.clear();
      size_t pos = 0;
      for (;;) {
        const size_t hit = t.find(replacement_, pos);
        if (hit == std::string::npos) break;
        out.append(t, pos, hit - pos);
        out.append(with);
        pos = hit + replacement_.size();
      }
      out.append(t, pos, std::string::npos);
      tokens[i].swap(out);
    }
    return OkStatus();
  }

 private:
  std::string replacement_;  // UTF-8 of the replacement character
  bool strip_first_;
};

}  // namespace

DecoderResult make_metaspace_decoder(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const char32_t replacement, json::get_char(j, "replacement", path));
  KEEL_ASSIGN_OR_RETURN(const std::string scheme,
                        json::opt_string(j, "prepend_scheme", path, "always"));
  if (scheme != "always" && scheme != "first" && scheme != "never") {
    return InvalidArgumentError(
        "{}: unknown prepend_scheme '{}' (expected \"first\", \"never\" or \"always\")",
        json::child_path(path, "prepend_scheme"), scheme);
  }
  KEEL_RETURN_IF_ERROR(json::opt_bool(j, "split", path, true));
  // Legacy files carry add_prefix_space; false must agree with "never".
  if (j.contains("add_prefix_space")) {
    KEEL_ASSIGN_OR_RETURN(const bool add_prefix_space,
                          json::get_bool(j, "add_prefix_space", path));
    if (!add_prefix_space && scheme != "never") {
      return InvalidArgumentError(
          "{}: add_prefix_space is false but prepend_scheme is '{}'; they must agree (false "
          "means \"never\")",
          path, scheme);
    }
  }
  return std::unique_ptr<Decoder>(std::make_unique<MetaspaceDecoder>(replacement, scheme != "never"));
}

}  // namespace keel::tokenizer
