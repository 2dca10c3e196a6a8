// Unicode character properties, exactly as HF tokenizers 0.22 sees them.
//
// The reference mixes three Unicode implementations: Oniguruma (\p{L}, \p{N},
// \s in Split patterns, Unicode 16), Rust std (char::is_whitespace,
// is_numeric) and the regex crate (\w, \s of the Whitespace pre-tokenizer),
// plus HF's own punctuation test. PCRE2 and utf8proc on a given system may be
// older, so keel carries the sets themselves, generated from the reference
// (unicode_props_data.inc, by gen_unicode_props.js).
//
// props(cp) is a two-level table lookup (built once, on first use; thread-safe
// thereafter): a bitmask of Prop values. ASCII has a flat fast path.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace keel::tokenizer::unicode {

enum Prop : uint8_t {
  kLetter = 1 << 0,       // Oniguruma \p{L}
  kNumber = 1 << 1,       // Oniguruma \p{N}
  kSpace = 1 << 2,        // Oniguruma \s (= Rust char::is_whitespace = regex \s)
  kNumeric = 1 << 3,      // Rust char::is_numeric (Digits pre-tokenizer)
  kPunctuation = 1 << 4,  // HF is_punc: ASCII punctuation or Unicode P*
  kWord = 1 << 5,         // regex crate \w (Whitespace pre-tokenizer)
  kWhitespace = 1 << 6,   // Rust char::is_whitespace (WhitespaceSplit, Bert)
};

struct CodeRange {
  char32_t lo;
  char32_t hi;  // inclusive
};

// The generated ranges for one property (sorted, disjoint).
std::span<const CodeRange> ranges(Prop p);

// Sets used only to translate regexes (not in the lookup table).
std::span<const CodeRange> onig_word_ranges();   // Oniguruma \w
std::span<const CodeRange> onig_digit_ranges();  // Oniguruma \d

// Two-level property table over all of U+0000..U+10FFFF.
class PropTable {
 public:
  static constexpr int kBlockBits = 7;
  static constexpr uint32_t kNumBlocks = 0x110000 >> kBlockBits;

  uint8_t get(char32_t cp) const {
    if (cp < 0x80) return ascii_[cp];
    if (cp >= 0x110000) return 0;
    return blocks_[(static_cast<uint32_t>(index_[cp >> kBlockBits]) << kBlockBits) |
                   (cp & ((1u << kBlockBits) - 1))];
  }
  std::array<uint8_t, 128> ascii_{};
  std::array<uint16_t, kNumBlocks> index_{};
  std::vector<uint8_t> blocks_;
};

// The process-wide table (built on first call).
const PropTable& prop_table();

inline uint8_t props(char32_t cp) { return prop_table().get(cp); }

}  // namespace keel::tokenizer::unicode
