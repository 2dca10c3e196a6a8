// UTF-8 helpers shared by the tokenizer and the server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "keel/core/status.h"

namespace keel::utf8 {

// Result of examining one position: the code point and its byte length.
// For an ill-formed sequence, `valid` is false and `length` is the length of
// the maximal ill-formed subpart (1..3), as Unicode §3.9 / WHATWG define it,
// which is also what Rust's String::from_utf8_lossy replaces with one U+FFFD.
struct Decoded {
  char32_t code_point;
  uint8_t length;
  bool valid;
};

Decoded decode(std::string_view s, size_t pos);

// Byte offset of the first ill-formed sequence, or npos if `s` is valid.
size_t find_invalid(std::string_view s);

// OK, or InvalidArgument naming the offset of the first bad byte.
Status validate(std::string_view s);

// Replaces every maximal ill-formed subpart with U+FFFD (from_utf8_lossy).
std::string to_valid_lossy(std::string_view s);

// Appends the UTF-8 encoding of `cp` (which must be a scalar value).
void append(std::string& out, char32_t cp);

// Number of bytes of the sequence that starts with lead byte `b` (1..4), or 0
// for a continuation or invalid lead byte.
inline int sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  if (b < 0xF5) return 4;
  return 0;
}

// Length of the longest prefix of `s` that does not end inside a complete-able
// but unfinished UTF-8 sequence: bytes after it could still become a valid
// character once more bytes arrive. Used by streaming decoders.
size_t complete_prefix_length(std::string_view s);

}  // namespace keel::utf8
