// Python str operations on UTF-8 strings, by code point as Python does them:
// whitespace (str.isspace), strip/split/splitlines, case mapping, title.
//
// Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
// (one-to-one mappings); other scripts are left unchanged (Python would also
// map e.g. Armenian, and expand 'ß'.upper() to 'SS').
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::jinja::pystr {

// Decodes UTF-8 (invalid bytes become U+FFFD, one per byte).
std::u32string decode(std::string_view s);
std::string encode(std::u32string_view s);

bool is_space(char32_t c);  // str.isspace
bool is_alpha(char32_t c);  // approximation of str.isalpha: has a case mapping or is a letter we know
bool is_digit(char32_t c);
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

size_t length(std::string_view s);  // code points

// str.strip/lstrip/rstrip; `chars` empty-and-not-given means whitespace.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) / str.split() when sep is null.
std::vector<std::string> split(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);       // str.title
std::string capitalize(std::string_view s);  // str.capitalize
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);
// str.find / str.count (code-point index; -1 when absent).
int64_t find(std::string_view s, std::string_view sub);
int64_t rfind(std::string_view s, std::string_view sub);
int64_t count(std::string_view s, std::string_view sub);
std::string center(std::string_view s, int64_t width, std::string_view fill);

}  // namespace keel::jinja::pystr
