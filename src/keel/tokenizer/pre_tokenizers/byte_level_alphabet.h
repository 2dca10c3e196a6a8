// The GPT-2 byte-level alphabet: a bijection between the 256 byte values and
// 256 printable Unicode code points, as in HF tokenizers' bytes_char().
//
// Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to the code point of the same
// value; the remaining 68 bytes map, in increasing byte order, to U+0100,
// U+0101, ... So ' ' (0x20) is 'Ġ' (U+0120) and '\n' (0x0A) is 'Ċ' (U+010A).
// Header-only, constexpr tables; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace keel::tokenizer::byte_level {

namespace internal {

constexpr bool kept_as_is(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr std::array<char32_t, 256> make_byte_to_char() {
  std::array<char32_t, 256> t{};
  char32_t next = 0x100;
  for (unsigned b = 0; b < 256; ++b) t[b] = kept_as_is(b) ? static_cast<char32_t>(b) : next++;
  return t;
}

inline constexpr std::array<char32_t, 256> kByteToChar = make_byte_to_char();

// Inverse over U+0000..U+0143 (the whole image); -1 where not in the image.
constexpr std::array<int16_t, 0x144> make_char_to_byte() {
  std::array<int16_t, 0x144> t{};
  for (auto& v : t) v = -1;
  for (unsigned b = 0; b < 256; ++b) t[kByteToChar[b]] = static_cast<int16_t>(b);
  return t;
}

inline constexpr std::array<int16_t, 0x144> kCharToByte = make_char_to_byte();

}  // namespace internal

// The code point that stands for byte `b`.
constexpr char32_t byte_to_char(uint8_t b) { return internal::kByteToChar[b]; }

// The byte a code point stands for, or nullopt if `c` is not in the alphabet.
constexpr std::optional<uint8_t> char_to_byte(char32_t c) {
  if (c >= internal::kCharToByte.size()) return std::nullopt;
  const int16_t b = internal::kCharToByte[c];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

// UTF-8 encoding of byte_to_char(b): 1 or 2 bytes, written to `out`
// (which must hold 2); returns the length.
constexpr int byte_to_utf8(uint8_t b, char* out) {
  const char32_t c = byte_to_char(b);
  if (c < 0x80) {
    out[0] = static_cast<char>(c);
    return 1;
  }
  out[0] = static_cast<char>(0xC0 | (c >> 6));
  out[1] = static_cast<char>(0x80 | (c & 0x3F));
  return 2;
}

}  // namespace keel::tokenizer::byte_level
