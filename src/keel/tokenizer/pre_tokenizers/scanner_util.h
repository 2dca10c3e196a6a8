// Inline helpers shared by the hand-written scanners: UTF-8 decoding without
// validation (inputs are valid UTF-8; garbage never reads out of bounds) and
// property lookups with an ASCII fast path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "keel/tokenizer/pre_tokenizers/unicode_props.h"

namespace keel::tokenizer::scan {

// One character at a position: its code point, byte length and properties.
struct Char {
  char32_t cp;
  uint32_t len;
  uint8_t props;
};

class Text {
 public:
  explicit Text(std::string_view s)
      : p_(reinterpret_cast<const unsigned char*>(s.data())),
        n_(s.size()),
        table_(&unicode::prop_table()) {}

  size_t size() const { return n_; }
  unsigned char byte(size_t i) const { return p_[i]; }

  // Requires i < size().
  // Forced inline: it is the scanners' innermost step.
  [[gnu::always_inline]] Char at(size_t i) const {
    const unsigned c = p_[i];
    if (c < 0x80) return Char{c, 1, table_->ascii_[c]};
    char32_t cp;
    uint32_t len;
    const size_t left = n_ - i;
    if (c < 0xE0 && left >= 2) {
      cp = ((c & 0x1Fu) << 6) | (p_[i + 1] & 0x3Fu);
      len = 2;
    } else if (c < 0xF0 && left >= 3) {
      cp = ((c & 0x0Fu) << 12) | ((p_[i + 1] & 0x3Fu) << 6) | (p_[i + 2] & 0x3Fu);
      len = 3;
    } else if (left >= 4) {
      cp = ((c & 0x07u) << 18) | ((p_[i + 1] & 0x3Fu) << 12) | ((p_[i + 2] & 0x3Fu) << 6) |
           (p_[i + 3] & 0x3Fu);
      len = 4;
    } else {
      return Char{0xFFFD, 1, 0};
    }
    return Char{cp, len, table_->get(cp)};
  }

  // End of the run of characters with any of `mask` starting at i.
  size_t run_end(size_t i, uint8_t mask) const {
    while (i < n_) {
      const unsigned c = p_[i];
      if (c < 0x80) {
        if (!(table_->ascii_[c] & mask)) break;
        ++i;
        continue;
      }
      const Char ch = at(i);
      if (!(ch.props & mask)) break;
      i += ch.len;
    }
    return i;
  }

  // End of the run of characters with none of `mask` starting at i.
  size_t run_end_not(size_t i, uint8_t mask) const {
    while (i < n_) {
      const unsigned c = p_[i];
      if (c < 0x80) {
        if (table_->ascii_[c] & mask) break;
        ++i;
        continue;
      }
      const Char ch = at(i);
      if (ch.props & mask) break;
      i += ch.len;
    }
    return i;
  }

 private:
  const unsigned char* p_;
  size_t n_;
  const unicode::PropTable* table_;
};

// Byte length of an Oniguruma contraction ('s 't 're 've 'm 'll 'd) at i
// (text[i] == '\''), or 0. Case-insensitively, 's' also matches U+017F
// (LATIN SMALL LETTER LONG S), as case folding dictates.
inline size_t contraction_length(const Text& t, size_t i, bool ignore_case) {
  if (i + 1 >= t.size()) return 0;
  auto lower = [&](unsigned char c) -> unsigned char {
    return (ignore_case && c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
  };
  const unsigned char c1 = lower(t.byte(i + 1));
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (ignore_case && c1 == 0xC5 && i + 2 < t.size() && t.byte(i + 2) == 0xBF) return 3;
  if (i + 2 >= t.size()) return 0;
  const unsigned char c2 = lower(t.byte(i + 2));
  if ((c1 == 'r' || c1 == 'v') && c2 == 'e') return 3;
  if (c1 == 'l' && c2 == 'l') return 3;
  return 0;
}

// The whitespace alternatives shared by the patterns, for a whitespace run
// [i, j) (j = run end):  `\s+(?!\S)|\s+`. Returns the match end.
inline size_t trailing_space_end(const Text& t, size_t i, size_t j) {
  if (j == t.size()) return j;
  // Back off the last character of the run, if that leaves one or more.
  size_t last = j - 1;
  while (last > i && (t.byte(last) & 0xC0) == 0x80) --last;
  return last > i ? last : j;
}

}  // namespace keel::tokenizer::scan
