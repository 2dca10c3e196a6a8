#include "keel/tokenizer/normalizers/unicode_props.h"

#include <utf8proc.h>

#include <algorithm>

#include "keel/core/utf8.h"
#include "keel/tokenizer/normalizers/unicode_tables.h"

namespace keel::tokenizer::unicode {

bool in_ranges(std::span<const CodePointRange> ranges, char32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const CodePointRange& r) { return c < r.first; });
  if (it == ranges.begin()) return false;
  --it;
  return cp <= it->last;
}

bool is_whitespace(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

struct CaseMapping {
  char32_t upper;
  char32_t lower;
};

// Lowercase mappings of Unicode 16 and 17 (Rust's tables) that utf8proc's
// Unicode 15 data lacks; found by comparing every code point with HF.
constexpr CaseMapping kLowercaseAfterU15[] = {
#include "keel/tokenizer/normalizers/lowercase_after_u15.inc"
};

}  // namespace

void append_lowercase(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    return;
  }
  if (cp == 0x130) {  // The one unconditional multi-character lowercase mapping.
    out.append("i\xCC\x87");
    return;
  }
  auto it = std::lower_bound(std::begin(kLowercaseAfterU15), std::end(kLowercaseAfterU15), cp,
                             [](const CaseMapping& m, char32_t c) { return m.upper < c; });
  if (it != std::end(kLowercaseAfterU15) && it->upper == cp) {
    utf8::append(out, it->lower);
    return;
  }
  utf8::append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

bool is_combining_mark(char32_t cp) { return cp >= 0x300 && in_ranges(kMarkRangesU9, cp); }

bool is_bert_nonspacing_mark(char32_t cp) {
  return cp >= 0x300 && in_ranges(kNonspacingMarkRangesU8, cp);
}

bool is_bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return true;  // Cc
  if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000) {     // Co (planes 15-16)
    return (cp & 0xFFFF) <= 0xFFFD || cp <= 0xF8FF;
  }
  return in_ranges(kFormatRangesU8, cp);
}

bool is_bert_whitespace(char32_t cp) { return is_whitespace(cp); }

bool is_bert_chinese_char(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace keel::tokenizer::unicode
