#include "keel/tokenizer/alignment.h"

#include <algorithm>

#include "keel/core/utf8.h"

namespace keel::tokenizer {
namespace {

// Byte length of the character starting at `pos` (1 for a stray byte).
size_t char_len(std::string_view s, size_t pos) {
  const int n = utf8::sequence_length(static_cast<unsigned char>(s[pos]));
  return n > 0 ? static_cast<size_t>(n) : 1;
}

}  // namespace

void AlignedString::assign(std::string_view s, uint32_t origin) {
  text.assign(s);
  align.resize(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = std::min(char_len(s, i), s.size() - i);
    const Alignment a{origin + static_cast<uint32_t>(i), origin + static_cast<uint32_t>(i + n)};
    for (size_t k = 0; k < n; ++k) align[i + k] = a;
    i += n;
  }
  orig_begin = origin;
  orig_end = origin + static_cast<uint32_t>(s.size());
}

void AlignedString::transform_range(size_t begin, size_t end, std::span<const CharChange> dest,
                                    size_t initial_offset) {
  // `pos` walks the characters being replaced; as in HF it is also the index
  // (into the whole string) whose alignment the next output character takes.
  size_t pos = begin;
  auto consume = [&] {
    if (pos < end) pos += std::min(char_len(text, pos), end - pos);
  };
  for (size_t k = 0; k < initial_offset; ++k) consume();
  std::string out;
  std::vector<Alignment> out_align;
  out.reserve(end - begin + dest.size());
  out_align.reserve(end - begin + dest.size());
  const Alignment empty{orig_begin, orig_begin};
  for (const CharChange& d : dest) {
    Alignment a;
    if (d.change > 0) {
      a = pos < 1 ? empty : align[std::min(pos, align.size()) - 1];
    } else {
      a = pos < align.size() ? align[pos] : (align.empty() ? empty : align.back());
      consume();
      for (int32_t k = 0; k < -d.change; ++k) consume();
    }
    const size_t before = out.size();
    utf8::append(out, d.c);
    out_align.insert(out_align.end(), out.size() - before, a);
  }
  text.replace(begin, end - begin, out);
  align.erase(align.begin() + static_cast<std::ptrdiff_t>(begin),
              align.begin() + static_cast<std::ptrdiff_t>(end));
  align.insert(align.begin() + static_cast<std::ptrdiff_t>(begin), out_align.begin(),
               out_align.end());
}

void AlignedString::transform(std::span<const CharChange> dest, size_t initial_offset) {
  // HF's convert_offsets(Range::Original(0..len_original)).
  if (orig_begin == orig_end) {
    transform_range(0, 0, dest, initial_offset);
    return;
  }
  bool has_start = false, has_end = false;
  size_t start = 0, stop = 0;
  for (size_t i = 0; i < align.size(); ++i) {
    const Alignment& a = align[i];
    if (!(orig_end >= a.end)) break;
    if (!has_start && a.begin != a.end) {
      has_start = true;
      start = i;
    }
    has_end = true;
    stop = i + 1;
  }
  if (has_start && has_end) {
    transform_range(start, stop, dest, initial_offset);
  } else if (has_start) {
    transform_range(start, start, dest, initial_offset);
  } else if (has_end) {
    transform_range(stop, stop, dest, initial_offset);
  }
}

void AlignedString::prepend(std::string_view s) {
  if (text.empty() || s.empty()) return;
  const size_t first = std::min(char_len(text, 0), text.size());
  std::vector<CharChange> changes;
  append_changes(s, 1, changes);
  changes.front().change = 0;
  changes.push_back(CharChange{utf8::decode(text, 0).code_point, 1});
  transform_range(0, first, changes, 0);
}

void AlignedString::append(std::string_view s) {
  if (text.empty() || s.empty()) return;
  size_t last = text.size() - 1;
  while (last > 0 && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;
  std::vector<CharChange> changes;
  changes.push_back(CharChange{utf8::decode(text, last).code_point, 0});
  append_changes(s, 1, changes);
  transform_range(last, text.size(), changes, 0);
}

void append_changes(std::string_view s, int32_t change, std::vector<CharChange>& out) {
  for (size_t i = 0; i < s.size();) {
    const utf8::Decoded d = utf8::decode(s, i);
    out.push_back(CharChange{d.code_point, change});
    i += d.length;
  }
}

std::vector<char32_t> decode_chars(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const utf8::Decoded d = utf8::decode(s, i);
    out.push_back(d.code_point);
    i += d.length;
  }
  return out;
}

}  // namespace keel::tokenizer
