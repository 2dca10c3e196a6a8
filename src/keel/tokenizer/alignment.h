// Alignment tracking for token offsets: keel's version of HF tokenizers'
// NormalizedString, used only when EncodeOptions::offsets is set.
//
// Concepts
// - Every byte of a rewritten string carries an Alignment: the byte range of
//   the ORIGINAL input it stands for (absolute offsets into the text passed
//   to encode). All bytes of one character share their alignment, and a
//   fresh string aligns every byte to its own character.
// - A rewrite is a list of CharChange, HF's (char, isize): change 0 replaces
//   the next character (taking its alignment), 1 inserts a character (taking
//   the alignment of the byte before it, or an empty range at the string's
//   start), -n replaces the next character and removes the n after it.
//   transform()/transform_range() are HF's algorithm step for step, quirks
//   included (e.g. a character composed from two takes only the first one's
//   range), because exact offsets depend on them.
// - A token covering bytes [b, e) of a rewritten string maps to the original
//   range (align[b].begin, align[e - 1].end), as HF's convert_offsets.
// Plain value types; not thread-safe to mutate, safe to read concurrently.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::tokenizer {

// The original-input byte range one byte of a rewritten string came from.
struct Alignment {
  uint32_t begin = 0;
  uint32_t end = 0;
  friend bool operator==(const Alignment&, const Alignment&) = default;
};

// One output character of a rewrite (see the file comment).
struct CharChange {
  char32_t c;
  int32_t change;
};

// HF's NormalizedString over absolute original offsets: `text` with one
// Alignment per byte, plus the original range it was cut from (HF's
// original_shift and len_original).
struct AlignedString {
  std::string text;
  std::vector<Alignment> align;  // align.size() == text.size()
  uint32_t orig_begin = 0;
  uint32_t orig_end = 0;

  // `s` (valid UTF-8) taken unchanged from the original input at `origin`.
  void assign(std::string_view s, uint32_t origin);

  // HF's transform_range on the bytes [begin, end) (character boundaries):
  // replaces them by `dest`, skipping `initial_offset` characters first.
  void transform_range(size_t begin, size_t end, std::span<const CharChange> dest,
                       size_t initial_offset);
  // HF's transform (transform_range over Range::Original(..)): from the first
  // byte with a non-empty alignment to the end.
  void transform(std::span<const CharChange> dest, size_t initial_offset);

  // HF's prepend: `s` before the first character, aligned to it (no-op on an
  // empty string).
  void prepend(std::string_view s);
  // HF's append: `s` after the last character, aligned to it.
  void append(std::string_view s);

  // The original range of the bytes [b, e) (b < e <= text.size()).
  Alignment original_range(size_t b, size_t e) const {
    return Alignment{align[b].begin, align[e - 1].end};
  }
};

// Appends one CharChange per character of `s` (valid UTF-8) with `change`.
void append_changes(std::string_view s, int32_t change, std::vector<CharChange>& out);

// The code points of `s` (valid UTF-8).
std::vector<char32_t> decode_chars(std::string_view s);

// HF's NormalizedString::filter: keeps the characters `keep(c)` accepts; a
// kept character absorbs the removed ones that follow it.
template <typename Keep>
void filter_chars(AlignedString& s, Keep&& keep) {
  const std::vector<char32_t> chars = decode_chars(s.text);
  std::vector<CharChange> changes;
  changes.reserve(chars.size());
  int32_t removed = 0;
  for (size_t k = chars.size(); k-- > 0;) {
    if (keep(chars[k])) {
      changes.push_back(CharChange{chars[k], -removed});
      removed = 0;
    } else {
      ++removed;
    }
  }
  std::reverse(changes.begin(), changes.end());
  s.transform(changes, static_cast<size_t>(removed));
}

// HF's NormalizedString::map: every character replaced by `map(c)`.
template <typename Map>
void map_chars(AlignedString& s, Map&& map) {
  const std::vector<char32_t> chars = decode_chars(s.text);
  std::vector<CharChange> changes;
  changes.reserve(chars.size());
  for (char32_t c : chars) changes.push_back(CharChange{map(c), 0});
  s.transform(changes, 0);
}

}  // namespace keel::tokenizer
