// A nesting limit for untrusted JSON, checked on the text before parsing.
//
// nlohmann::json parses and destroys iteratively, but copying a value,
// dump() and comparisons recurse once per level: a request body or a model
// file of a few MB of '[' would overflow a thread's stack. Real documents
// nest little (tokenizer.json ~6 levels, a chat request with tool schemas
// ~20), so keel refuses anything deeper than kMaxJsonDepth up front.
//
// Contract: pure functions of their arguments; brackets inside strings do not
// count; malformed JSON is left to the parser (only depth is judged here).
// Thread-safety: reentrant.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "keel/core/status.h"

namespace keel {

inline constexpr size_t kMaxJsonDepth = 256;

// The byte offset where `text` first nests arrays/objects deeper than
// max_depth, or nullopt.
std::optional<size_t> json_too_deep_at(std::string_view text, size_t max_depth = kMaxJsonDepth);

// OK, or InvalidArgument "<what> nests arrays/objects more than N levels
// deep (byte B)".
Status check_json_depth(std::string_view text, std::string_view what,
                        size_t max_depth = kMaxJsonDepth);

}  // namespace keel
