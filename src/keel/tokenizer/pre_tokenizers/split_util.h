// Splitting machinery shared by the pre-tokenizers, following HF's
// NormalizedString::split: a pattern yields segments that tile a piece, each
// flagged as a match or not; a SplitDelimiterBehavior decides what becomes of
// the matches; empty results are dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/pieces.h"
#include "keel/tokenizer/regex.h"

namespace keel::tokenizer {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Parses "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
// "Contiguous" (as serialized by HF). `path` names the field in errors.
Result<SplitBehavior> parse_split_behavior(std::string_view s, const std::string& path);

// A byte range of a piece and whether the pattern matched it.
struct Segment {
  uint32_t begin;
  uint32_t end;
  bool is_match;
};

// Turns matches over a `length`-byte piece into tiling segments (HF's
// find_matches; an empty piece gives one empty non-match). With `invert`, the
// match flags are flipped.
void matches_to_segments(const std::vector<RegexMatch>& matches, size_t length, bool invert,
                         std::vector<Segment>& segments);

// Splits piece `span` by `segments` under `behavior`, appending the non-empty
// results to `out` (spans over the same arena bytes, original offsets mapped
// with map_offset).
void emit_splits(const Span& span, const std::vector<Segment>& segments, SplitBehavior behavior,
                 std::vector<Span>& out);

// Segments for "each character satisfying `pred` is a match" (HF's
// Pattern for Fn(char) -> bool), over the props table or an exact code point.
void char_class_segments(std::string_view text, uint8_t props_mask, std::vector<Segment>& segments);
void char_segments(std::string_view text, char32_t delimiter, std::vector<Segment>& segments);

// The sub-span [begin, end) of `span` (offsets relative to the span).
inline Span sub_span(const Span& span, uint32_t begin, uint32_t end) {
  return Span{span.offset + begin, end - begin, map_offset(span, begin), map_offset(span, end)};
}

// Per-thread scratch buffers, reused across calls to avoid allocation.
struct SplitScratch {
  std::vector<Span> spans;
  std::vector<RegexMatch> matches;
  std::vector<Segment> segments;
  std::vector<Segment> merged;
  std::string text;
  std::vector<Alignment> align;
};
SplitScratch& split_scratch();

}  // namespace keel::tokenizer
