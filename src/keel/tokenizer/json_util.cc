#include "keel/tokenizer/json_util.h"

#include "keel/core/utf8.h"

namespace keel::tokenizer::json {

std::string type_mismatch(const json& v, const char* expected) {
  return fmt::format("expected {}, got {}", expected, v.type_name());
}

namespace {

template <typename Pred>
Result<const json*> member(const json& obj, const char* key, const std::string& path,
                           const char* expected, Pred ok) {
  if (!obj.is_object()) {
    return InvalidArgumentError("{}: {}", path, type_mismatch(obj, "an object"));
  }
  auto it = obj.find(key);
  if (it == obj.end()) {
    return InvalidArgumentError("{}: missing required field '{}' ({})", path, key, expected);
  }
  if (!ok(*it)) {
    return InvalidArgumentError("{}: {}", child_path(path, key), type_mismatch(*it, expected));
  }
  return &*it;
}

// nullptr when absent or null.
Result<const json*> optional_member(const json& obj, const char* key, const std::string& path) {
  if (!obj.is_object()) {
    return InvalidArgumentError("{}: {}", path, type_mismatch(obj, "an object"));
  }
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return static_cast<const json*>(nullptr);
  return &*it;
}

}  // namespace

Result<std::string> get_string(const json& obj, const char* key, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const json* v, member(obj, key, path, "a string",
                                               [](const json& x) { return x.is_string(); }));
  return v->get<std::string>();
}

Result<bool> get_bool(const json& obj, const char* key, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const json* v, member(obj, key, path, "a boolean",
                                               [](const json& x) { return x.is_boolean(); }));
  return v->get<bool>();
}

Result<int64_t> get_int(const json& obj, const char* key, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const json* v,
                        member(obj, key, path, "an integer",
                               [](const json& x) { return x.is_number_integer(); }));
  return v->get<int64_t>();
}

Result<double> get_number(const json& obj, const char* key, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const json* v, member(obj, key, path, "a number",
                                               [](const json& x) { return x.is_number(); }));
  return v->get<double>();
}

Result<const json*> get_object(const json& obj, const char* key, const std::string& path) {
  return member(obj, key, path, "an object", [](const json& x) { return x.is_object(); });
}

Result<const json*> get_array(const json& obj, const char* key, const std::string& path) {
  return member(obj, key, path, "an array", [](const json& x) { return x.is_array(); });
}

Result<std::string> opt_string(const json& obj, const char* key, const std::string& path,
                               std::string fallback) {
  KEEL_ASSIGN_OR_RETURN(const json* v, optional_member(obj, key, path));
  if (v == nullptr) return fallback;
  if (!v->is_string()) {
    return InvalidArgumentError("{}: {}", child_path(path, key), type_mismatch(*v, "a string"));
  }
  return v->get<std::string>();
}

Result<std::optional<std::string>> opt_nullable_string(const json& obj, const char* key,
                                                       const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const json* v, optional_member(obj, key, path));
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return InvalidArgumentError("{}: {}", child_path(path, key), type_mismatch(*v, "a string"));
  }
  return std::optional<std::string>(v->get<std::string>());
}

Result<bool> opt_bool(const json& obj, const char* key, const std::string& path, bool fallback) {
  KEEL_ASSIGN_OR_RETURN(const json* v, optional_member(obj, key, path));
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) {
    return InvalidArgumentError("{}: {}", child_path(path, key), type_mismatch(*v, "a boolean"));
  }
  return v->get<bool>();
}

Result<int64_t> opt_int(const json& obj, const char* key, const std::string& path,
                        int64_t fallback) {
  KEEL_ASSIGN_OR_RETURN(const json* v, optional_member(obj, key, path));
  if (v == nullptr) return fallback;
  if (!v->is_number_integer()) {
    return InvalidArgumentError("{}: {}", child_path(path, key), type_mismatch(*v, "an integer"));
  }
  return v->get<int64_t>();
}

Result<char32_t> get_char(const json& obj, const char* key, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string s, get_string(obj, key, path));
  if (!s.empty()) {
    utf8::Decoded d = utf8::decode(s, 0);
    if (d.valid && d.length == s.size()) return d.code_point;
  }
  return InvalidArgumentError("{}: expected exactly one character, got \"{}\"",
                              child_path(path, key), s);
}

Result<std::string> get_type(const json& j, const std::string& path) {
  return get_string(j, "type", path);
}

Status unknown_type(const std::string& kind, const std::string& type, const std::string& path,
                    const char* supported) {
  return UnimplementedError("{}: {} type '{}' is not supported by keel (supported: {})", path,
                            kind, type, supported);
}

}  // namespace keel::tokenizer::json
