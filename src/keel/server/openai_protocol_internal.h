// Internal to the server module: the parsing helpers shared by
// openai_protocol.cc (completions and the generation options common to both
// endpoints) and chat_protocol.cc (chat completions). Not part of keel's API;
// include it only from src/keel/server/*.cc. Non-template helpers are defined
// in openai_protocol.cc.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "keel/core/json_depth.h"
#include "keel/core/utf8.h"
#include "keel/server/api_error.h"
#include "keel/server/openai_protocol.h"

// Returns the error of `expr` (an Error) from the enclosing function, if any.
#define KEEL_PARSE_TRY(expr)                                             \
  do {                                                                   \
    if (::keel::server::protocol_internal::Error e_ = (expr)) return e_; \
  } while (0)

namespace keel::server::protocol_internal {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using Error = std::optional<ApiError>;

// The value as the client wrote it, shortened for messages.
template <typename J>
std::string show(const J& v) {
  std::string s = v.dump(-1, ' ', false, J::error_handler_t::replace);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

template <typename J>
std::string_view type_name(const J& v) {
  using T = nlohmann::detail::value_t;
  switch (v.type()) {
    case T::null:
      return "null";
    case T::boolean:
      return "boolean";
    case T::number_integer:
    case T::number_unsigned:
      return "integer";
    case T::number_float:
      return "number";
    case T::string:
      return "string";
    case T::array:
      return "array";
    case T::object:
      return "object";
    default:
      return "unknown";
  }
}

// An invalid_request ApiError for `param`.
Error bad(std::string_view param, std::string message);

template <typename J>
Error wrong_type(std::string_view param, std::string_view expected, const J& v) {
  return bad(param,
             fmt::format("{} must be {}, got {} {}", param, expected, type_name(v), show(v)));
}

Error read_bool(const json& v, std::string_view param, bool& out);

// One field of the shared options; known = false if `key` is not one of them.
// null leaves a field unset (max_tokens: null means the rest of the window).
Error parse_option(const std::string& key, const json& v, const ProtocolLimits& limits,
                   GenerationOptions& o, bool& known);

// Checks between fields (min_tokens <= max_tokens, stream_options needs
// stream, best_of = n), after every field was read.
Error check_cross_fields(const json& body, GenerationOptions& o);

// The body as a JSON object, or the error that says why it is not one.
template <typename J>
Error parse_body(std::string_view body, J& out) {
  if (const Status deep = check_json_depth(body, "request body"); !deep.ok()) {
    return http_error(400, "invalid_request_error", "invalid_json", std::string(deep.message()));
  }
  out = J::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) {
    // Say where: parse again with exceptions for the position.
    std::string where;
    try {
      J again = J::parse(body);
    } catch (const typename J::parse_error& e) {
      where = fmt::format(" (byte {})", e.byte);
    } catch (...) {
    }
    std::string hint =
        utf8::find_invalid(body) != std::string_view::npos ? "; it is not valid UTF-8" : "";
    return http_error(400, "invalid_request_error", "invalid_json",
                      fmt::format("request body is not valid JSON{}{}", where, hint));
  }
  if (!out.is_object()) {
    return http_error(400, "invalid_request_error", "invalid_json",
                      fmt::format("request body must be a JSON object, got {}", type_name(out)));
  }
  return std::nullopt;
}

}  // namespace keel::server::protocol_internal
