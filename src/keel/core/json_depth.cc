// See json_depth.h.
#include "keel/core/json_depth.h"

namespace keel {

std::optional<size_t> json_too_deep_at(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

Status check_json_depth(std::string_view text, std::string_view what, size_t max_depth) {
  if (const auto at = json_too_deep_at(text, max_depth)) {
    return InvalidArgumentError("{} nests arrays/objects more than {} levels deep (byte {})", what,
                                max_depth, *at);
  }
  return OkStatus();
}

}  // namespace keel
