#include "keel/tokenizer/pre_tokenizers/split_util.h"

#include <algorithm>

#include "keel/tokenizer/pre_tokenizers/scanner_util.h"

namespace keel::tokenizer {

Result<SplitBehavior> parse_split_behavior(std::string_view s, const std::string& path) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return InvalidArgumentError(
      "{}: unknown split behavior '{}' (expected Removed, Isolated, MergedWithPrevious, "
      "MergedWithNext or Contiguous)",
      path, s);
}

void matches_to_segments(const std::vector<RegexMatch>& matches, size_t length, bool invert,
                         std::vector<Segment>& segments) {
  segments.clear();
  if (length == 0) {
    segments.push_back(Segment{0, 0, invert});
    return;
  }
  size_t prev = 0;
  for (const RegexMatch& m : matches) {
    if (prev != m.begin) {
      segments.push_back(
          Segment{static_cast<uint32_t>(prev), static_cast<uint32_t>(m.begin), invert});
    }
    segments.push_back(
        Segment{static_cast<uint32_t>(m.begin), static_cast<uint32_t>(m.end), !invert});
    prev = m.end;
  }
  if (prev != length) {
    segments.push_back(Segment{static_cast<uint32_t>(prev), static_cast<uint32_t>(length), invert});
  }
}

namespace {

// HF's folds, on (begin, end, remove) triples; `is_match` becomes "remove".
void apply_behavior(const std::vector<Segment>& in, SplitBehavior behavior,
                    std::vector<Segment>& out) {
  out.clear();
  switch (behavior) {
    case SplitBehavior::kRemoved:
      out = in;
      return;
    case SplitBehavior::kIsolated:
      for (const Segment& s : in) out.push_back(Segment{s.begin, s.end, false});
      return;
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Segment& s : in) {
        if (s.is_match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(Segment{s.begin, s.end, false});
        }
        previous_match = s.is_match;
      }
      return;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Segment& s : in) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(Segment{s.begin, s.end, false});
        }
        previous_match = s.is_match;
      }
      return;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (size_t k = in.size(); k-- > 0;) {
        const Segment& s = in[k];
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().begin = s.begin;
        } else {
          out.push_back(Segment{s.begin, s.end, false});
        }
        previous_match = s.is_match;
      }
      std::reverse(out.begin(), out.end());
      return;
    }
  }
}

}  // namespace

void emit_splits(const Span& span, const std::vector<Segment>& segments, SplitBehavior behavior,
                 std::vector<Span>& out) {
  if (behavior == SplitBehavior::kIsolated) {
    for (const Segment& s : segments) {
      if (s.end > s.begin) out.push_back(sub_span(span, s.begin, s.end));
    }
    return;
  }
  std::vector<Segment>& merged = split_scratch().merged;
  apply_behavior(segments, behavior, merged);
  for (const Segment& s : merged) {
    if (!s.is_match && s.end > s.begin) out.push_back(sub_span(span, s.begin, s.end));
  }
}

void char_class_segments(std::string_view text, uint8_t props_mask,
                         std::vector<Segment>& segments) {
  segments.clear();
  if (text.empty()) {
    segments.push_back(Segment{0, 0, false});
    return;
  }
  const scan::Text t(text);
  uint32_t last = 0;
  for (size_t i = 0; i < t.size();) {
    const scan::Char c = t.at(i);
    const auto b = static_cast<uint32_t>(i);
    i += c.len;
    if (c.props & props_mask) {
      if (last < b) segments.push_back(Segment{last, b, false});
      segments.push_back(Segment{b, static_cast<uint32_t>(i), true});
      last = static_cast<uint32_t>(i);
    }
  }
  if (last < text.size()) {
    segments.push_back(Segment{last, static_cast<uint32_t>(text.size()), false});
  }
}

void char_segments(std::string_view text, char32_t delimiter, std::vector<Segment>& segments) {
  segments.clear();
  if (text.empty()) {
    segments.push_back(Segment{0, 0, false});
    return;
  }
  const scan::Text t(text);
  uint32_t last = 0;
  for (size_t i = 0; i < t.size();) {
    const scan::Char c = t.at(i);
    const auto b = static_cast<uint32_t>(i);
    i += c.len;
    if (c.cp == delimiter) {
      if (last < b) segments.push_back(Segment{last, b, false});
      segments.push_back(Segment{b, static_cast<uint32_t>(i), true});
      last = static_cast<uint32_t>(i);
    }
  }
  if (last < text.size()) {
    segments.push_back(Segment{last, static_cast<uint32_t>(text.size()), false});
  }
}

SplitScratch& split_scratch() {
  thread_local SplitScratch scratch;
  return scratch;
}

}  // namespace keel::tokenizer
