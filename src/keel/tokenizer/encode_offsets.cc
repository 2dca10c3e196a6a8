// Tokenizer::encode with EncodeOptions::offsets: the same pipeline as
// tokenizer.cc's fast path, carrying alignments (alignment.h) so that every
// token gets the byte range of the input it came from, as HF tokenizers
// computes it (see README.md, "Offsets"). Kept apart so that the default
// path pays nothing for it.
#include <algorithm>

#include "keel/core/utf8.h"
#include "keel/tokenizer/processors/processors.h"
#include "keel/tokenizer/tokenizer_impl.h"

namespace keel::tokenizer {

struct Tokenizer::Impl::OffsetsOutput {
  std::vector<uint32_t>& ids;
  std::vector<std::pair<uint32_t, uint32_t>>& offsets;
  std::vector<std::string>* values;  // token strings, only for offset trimming

  void add(uint32_t id, Alignment a, std::string_view value) {
    ids.push_back(id);
    offsets.emplace_back(a.begin, a.end);
    if (values != nullptr) values->emplace_back(value);
  }
};

namespace {

// The text with each maximal ill-formed subpart replaced by U+FFFD (exactly
// utf8::to_valid_lossy), and for each of its byte offsets the input offset
// it stands for (a U+FFFD for the whole subpart).
std::string repair(std::string_view input, std::vector<uint32_t>& input_at) {
  std::string out;
  out.reserve(input.size() + 16);
  input_at.clear();
  input_at.reserve(input.size() + 17);
  for (size_t i = 0; i < input.size();) {
    const utf8::Decoded d = utf8::decode(input, i);
    if (d.valid) {
      out.append(input.substr(i, d.length));
      for (size_t k = 0; k < d.length; ++k) input_at.push_back(static_cast<uint32_t>(i + k));
    } else {
      out.append("\xEF\xBF\xBD");
      input_at.insert(input_at.end(), 3, static_cast<uint32_t>(i));
    }
    i += d.length;
  }
  input_at.push_back(static_cast<uint32_t>(input.size()));
  return out;
}

}  // namespace

Status Tokenizer::Impl::encode_plain_offsets(const AlignedString& normalized, size_t begin,
                                             size_t end, uint32_t orig_begin, uint32_t orig_end,
                                             OffsetsOutput& out) const {
  thread_local PieceList pieces;
  thread_local std::vector<TokenRange> ranges;
  pieces.clear();
  pieces.aligned = true;
  pieces.add_copy(std::string_view(normalized.text).substr(begin, end - begin), orig_begin,
                  orig_end);
  pieces.align.assign(normalized.align.begin() + static_cast<std::ptrdiff_t>(begin),
                      normalized.align.begin() + static_cast<std::ptrdiff_t>(end));
  if (parts.pre_tokenizer) KEEL_RETURN_IF_ERROR(parts.pre_tokenizer->pre_tokenize(pieces));
  for (const Span& s : pieces.spans) {
    if (s.length == 0) continue;
    ranges.clear();
    const size_t first = out.ids.size();
    KEEL_RETURN_IF_ERROR(parts.model->tokenize_with_offsets(pieces.view(s), out.ids, ranges));
    if (ranges.size() != out.ids.size() - first) {
      return InternalError("model returned {} token ranges for {} tokens", ranges.size(),
                           out.ids.size() - first);
    }
    for (size_t k = 0; k < ranges.size(); ++k) {
      // HF's convert_offsets: a range it cannot map (past the piece, or
      // reversed) keeps the model's numbers; an empty one is shifted by the
      // piece's start.
      const auto [b, e] = ranges[k];
      if (e > s.length || b > e) {
        out.offsets.emplace_back(b, e);
      } else if (b == e) {
        const uint32_t start = pieces.align[s.offset].begin;
        out.offsets.emplace_back(start + b, start + e);
      } else {
        out.offsets.emplace_back(pieces.align[s.offset + b].begin,
                                 pieces.align[s.offset + e - 1].end);
      }
      if (out.values != nullptr) {
        out.values->emplace_back(parts.model->id_to_token(out.ids[first + k]).value_or(""));
      }
    }
  }
  return OkStatus();
}

Status Tokenizer::Impl::encode_segment_offsets(std::string_view text, uint32_t orig_begin,
                                               bool split_special, OffsetsOutput& out) const {
  const auto orig_end = static_cast<uint32_t>(orig_begin + text.size());
  thread_local AlignedString normalized;
  normalized.assign(text, orig_begin);
  if (parts.normalizer) KEEL_RETURN_IF_ERROR(parts.normalizer->normalize_aligned(normalized));
  const std::string_view seg = normalized.text;
  if (seg.empty()) return OkStatus();
  if (normalized_splitter->empty()) {
    return encode_plain_offsets(normalized, 0, seg.size(), orig_begin, orig_end, out);
  }
  // Not thread_local: encode_plain_offsets must not clobber it.
  std::vector<TextSplit> splits;
  normalized_splitter->split(seg, splits, split_special);
  // As the fast path: piece offsets are exact only without a normalizer.
  const bool exact = parts.normalizer == nullptr;
  for (const TextSplit& s : splits) {
    if (s.token_id) {
      out.add(*s.token_id, normalized.original_range(s.begin, s.end),
              seg.substr(s.begin, s.end - s.begin));
      continue;
    }
    const uint32_t b = exact ? orig_begin + s.begin : orig_begin;
    const uint32_t e = exact ? orig_begin + s.end : orig_end;
    KEEL_RETURN_IF_ERROR(encode_plain_offsets(normalized, s.begin, s.end, b, e, out));
  }
  return OkStatus();
}

Result<Encoding> Tokenizer::Impl::encode_with_offsets(std::string_view input,
                                                      const EncodeOptions& options) const {
  std::string_view text = input;
  std::string repaired;
  std::vector<uint32_t> input_at;  // only for repaired text
  if (utf8::find_invalid(input) != std::string_view::npos) {
    if (!options.lossy_utf8) return utf8::validate(input);
    repaired = repair(input, input_at);
    text = repaired;
  }
  const std::optional<OffsetTrimming> trimming =
      parts.post_processor ? offset_trimming(*parts.post_processor) : std::nullopt;
  Encoding enc;
  enc.ids.reserve(text.size() / 3 + 4);
  enc.offsets.reserve(text.size() / 3 + 4);
  std::vector<std::string> values;
  OffsetsOutput out{enc.ids, enc.offsets, trimming ? &values : nullptr};
  if (raw_splitter->empty()) {
    KEEL_RETURN_IF_ERROR(encode_segment_offsets(text, 0, options.split_special_tokens, out));
  } else {
    std::vector<TextSplit> splits;
    raw_splitter->split(text, splits, options.split_special_tokens);
    for (const TextSplit& s : splits) {
      const std::string_view part = text.substr(s.begin, s.end - s.begin);
      if (s.token_id) {
        out.add(*s.token_id, Alignment{s.begin, s.end}, part);
      } else {
        KEEL_RETURN_IF_ERROR(
            encode_segment_offsets(part, s.begin, options.split_special_tokens, out));
      }
    }
  }
  // HF's post-processing: ByteLevel/Roberta offset trimming (always), then
  // the special tokens, each at (0, 0).
  if (trimming) {
    std::vector<std::string_view> views(values.begin(), values.end());
    trim_byte_level_offsets(text, views, *trimming, enc.offsets);
  }
  if (options.add_special_tokens) {
    if (parts.add_bos_token || parts.add_eos_token) {
      const size_t before = enc.ids.size();
      const bool bos = parts.add_bos_token.value_or(false) && bos_id;
      KEEL_RETURN_IF_ERROR(add_special_tokens(enc.ids));
      if (enc.ids.size() != before) {
        if (bos) enc.offsets.insert(enc.offsets.begin(), {0, 0});
        enc.offsets.resize(enc.ids.size(), {0, 0});
      }
    } else if (parts.post_processor) {
      KEEL_RETURN_IF_ERROR(parts.post_processor->process_single(enc.ids, &enc.offsets));
    }
  }
  if (!input_at.empty()) {
    for (auto& [b, e] : enc.offsets) {
      b = input_at[std::min<size_t>(b, input_at.size() - 1)];
      e = input_at[std::min<size_t>(e, input_at.size() - 1)];
    }
  }
  return enc;
}

}  // namespace keel::tokenizer
