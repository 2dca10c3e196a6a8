// Typed access to tokenizer.json objects with errors that name the JSON path.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "keel/core/result.h"

namespace keel::tokenizer::json {

using nlohmann::json;

inline std::string child_path(const std::string& path, const std::string& key) {
  return path + "." + key;
}
inline std::string index_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// "expected a string, got number"
std::string type_mismatch(const json& v, const char* expected);

// Required members.
Result<std::string> get_string(const json& obj, const char* key, const std::string& path);
Result<bool> get_bool(const json& obj, const char* key, const std::string& path);
Result<int64_t> get_int(const json& obj, const char* key, const std::string& path);
Result<double> get_number(const json& obj, const char* key, const std::string& path);
Result<const json*> get_object(const json& obj, const char* key, const std::string& path);
Result<const json*> get_array(const json& obj, const char* key, const std::string& path);

// Optional members: absent or null gives `fallback`; a wrong type is an error.
Result<std::string> opt_string(const json& obj, const char* key, const std::string& path,
                               std::string fallback);
Result<std::optional<std::string>> opt_nullable_string(const json& obj, const char* key,
                                                       const std::string& path);
Result<bool> opt_bool(const json& obj, const char* key, const std::string& path, bool fallback);
Result<int64_t> opt_int(const json& obj, const char* key, const std::string& path,
                        int64_t fallback);

// A member that must be a string holding exactly one character (e.g. the
// Metaspace replacement "▁").
Result<char32_t> get_char(const json& obj, const char* key, const std::string& path);

// The object's "type" member (required). Errors if `j` is not an object.
Result<std::string> get_type(const json& j, const std::string& path);

Status unknown_type(const std::string& kind, const std::string& type, const std::string& path,
                    const char* supported);

}  // namespace keel::tokenizer::json
