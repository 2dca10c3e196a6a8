// Python's text forms of values: str() (what `{{ x }}` prints), repr() (how
// strings inside printed lists and dicts appear), float repr (shortest
// round-trip), and json.dumps as transformers' `tojson` calls it. Plus the
// conversion from the JSON render context into Values.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "keel/template/value.h"

namespace keel::jinja {

// Python str(v): None -> "None", True -> "True", 1.0 -> "1.0", lists and
// dicts as repr, undefined -> "".
std::string to_str(const Value& v);
// Python repr(v).
std::string to_repr(const Value& v);
// repr(float): "1.0", "0.1", "1e+20", "inf", "nan".
std::string float_repr(double d);
// repr(str): quotes chosen and escapes applied as CPython does.
std::string string_repr(const std::string& s);

struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // json.dumps(indent=...), as the indent string
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// json.dumps(v, ...); fails (TemplateError) on values JSON cannot hold.
std::string to_json(const Value& v, const JsonOptions& options);

// JSON (as parsed, with key order kept) to Value: objects become dicts,
// arrays lists, integers int (unsigned beyond int64 become float).
Value from_json(const nlohmann::ordered_json& j);

}  // namespace keel::jinja
