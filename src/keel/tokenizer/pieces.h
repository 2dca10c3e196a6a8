// PieceList: the unit of work between tokenizer stages.
//
// A normalized segment of input is split by pre-tokenizers into pieces. The
// bytes of all pieces live in one append-only arena (`bytes`); a piece is a
// span of it plus the byte range of the original input it came from. Stages
// that only split emit new spans over existing bytes (no copy); stages that
// rewrite (Metaspace, add_prefix_space) append the new bytes to the arena.
// Spans use offsets, not pointers, so growing the arena never invalidates them.
// In offsets mode (`aligned`), `align` holds one Alignment per arena byte
// (alignment.h): stages that append bytes append their alignments too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "keel/tokenizer/alignment.h"

namespace keel::tokenizer {

struct Span {
  uint32_t offset = 0;      // into PieceList::bytes
  uint32_t length = 0;
  uint32_t orig_begin = 0;  // byte range in the original input text
  uint32_t orig_end = 0;
};

struct PieceList {
  std::string bytes;
  std::vector<Span> spans;
  std::vector<Alignment> align;  // per byte of `bytes`, only when `aligned`
  bool aligned = false;

  std::string_view view(const Span& s) const {
    return std::string_view(bytes).substr(s.offset, s.length);
  }
  // Appends bytes to the arena and a span over them.
  void add_copy(std::string_view text, uint32_t orig_begin, uint32_t orig_end) {
    const auto off = static_cast<uint32_t>(bytes.size());
    bytes.append(text);
    spans.push_back(Span{off, static_cast<uint32_t>(text.size()), orig_begin, orig_end});
  }
  void clear() {
    bytes.clear();
    spans.clear();
    align.clear();
  }
};

// Maps a byte offset inside a piece/segment back to the original text.
// For text the normalizer left unchanged, `orig_begin + offset` is exact;
// otherwise the offset is clamped to the segment's original range.
inline uint32_t map_offset(const Span& s, uint32_t offset_in_span) {
  const uint32_t o = s.orig_begin + offset_in_span;
  return o > s.orig_end ? s.orig_end : o;
}

}  // namespace keel::tokenizer
