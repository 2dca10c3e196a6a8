// ByteLevel: GPT-2's pre-tokenizer (HF's ByteLevel).
#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/pre_tokenizers/builders.h"
#include "keel/tokenizer/pre_tokenizers/byte_level_alphabet.h"
#include "keel/tokenizer/pre_tokenizers/scanner.h"

namespace keel::tokenizer {

namespace {

// Contract: for each piece, (1) with add_prefix_space, a ' ' is prepended
// unless the piece starts with one; (2) with use_regex, the piece is split by
// the GPT-2 pattern (hand-written scanner); (3) unless `raw_`, every byte is
// rewritten as its GPT-2 alphabet character. In raw mode (StageOptions::
// byte_level_raw) the bytes stay as they are and the BPE model works on raw
// bytes. trim_offsets only matters to the post-processor and is ignored here.
// Original offsets: the prepended space maps to the piece's first character,
// as in HF; so do its alignments in offsets mode, and each alphabet
// character of a rewritten byte takes that byte's alignment (HF's
// transform). Immutable; thread-safe.
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, bool raw)
      : add_prefix_space_(add_prefix_space),
        raw_(raw),
        scanner_(use_regex ? make_scanner(kGpt2Pattern) : nullptr) {}

  Status pre_tokenize(PieceList& pieces) const override {
    if (!add_prefix_space_ && raw_ && scanner_ == nullptr) {
      // Nothing to rewrite (Llama 3, Qwen: a Split does the splitting): only
      // drop empty pieces, in place rather than copying every span.
      std::erase_if(pieces.spans, [](const Span& s) { return s.length == 0; });
      return OkStatus();
    }
    SplitScratch& scratch = split_scratch();
    std::vector<Span>& old = scratch.spans;
    old.clear();
    old.swap(pieces.spans);
    for (const Span& span : old) {
      if (span.length == 0) continue;
      const std::string_view text = pieces.view(span);
      const bool prefix = add_prefix_space_ && text.front() != ' ';
      if (!prefix && raw_ && scanner_ == nullptr) {
        pieces.spans.push_back(span);
        continue;
      }
      // Bytes of the rewritten piece (the arena may grow below, so copy).
      std::string& work = scratch.text;
      work.clear();
      if (prefix) work += ' ';
      work.append(text);
      // Length in bytes of the piece's first character (for prefix offsets).
      const int first_len = utf8::sequence_length(static_cast<unsigned char>(text.front()));
      const uint32_t shift = prefix ? 1 : 0;
      auto orig_begin = [&](uint32_t x) { return map_offset(span, x > shift ? x - shift : 0); };
      auto orig_end = [&](uint32_t x) {
        if (prefix && x <= 1)
          return map_offset(span, static_cast<uint32_t>(first_len > 0 ? first_len : 1));
        return map_offset(span, x - shift);
      };
      std::vector<RegexMatch>& matches = scratch.matches;
      matches.clear();
      if (scanner_ != nullptr) {
        scanner_->scan(work, matches);
      } else {
        matches.push_back(RegexMatch{0, work.size()});
      }
      // Alignment of byte k of `work` (offsets mode): the prefix space takes
      // the first character's, as HF's prepend.
      auto work_align = [&](uint32_t k) {
        return pieces.align[span.offset + (k > shift ? k - shift : 0)];
      };
      if (raw_) {
        // One copy of the piece in the arena (or none), spans over it.
        uint32_t base = span.offset;
        if (prefix) {
          base = static_cast<uint32_t>(pieces.bytes.size());
          pieces.bytes.append(work);
          if (pieces.aligned) {
            pieces.align.reserve(pieces.align.size() + work.size());
            for (uint32_t k = 0; k < work.size(); ++k) pieces.align.push_back(work_align(k));
          }
        }
        for (const RegexMatch& m : matches) {
          const auto b = static_cast<uint32_t>(m.begin);
          const auto e = static_cast<uint32_t>(m.end);
          pieces.spans.push_back(Span{base + b, e - b, orig_begin(b), orig_end(e)});
        }
        continue;
      }
      for (const RegexMatch& m : matches) {
        const auto b = static_cast<uint32_t>(m.begin);
        const auto e = static_cast<uint32_t>(m.end);
        const auto off = static_cast<uint32_t>(pieces.bytes.size());
        char buf[2];
        for (uint32_t k = b; k < e; ++k) {
          const int n = byte_level::byte_to_utf8(static_cast<uint8_t>(work[k]), buf);
          pieces.bytes.append(buf, static_cast<size_t>(n));
          if (pieces.aligned) {
            // Every alphabet character stands for its byte's character (HF).
            pieces.align.reserve(pieces.align.size() + 2);
            for (int j = 0; j < n; ++j) pieces.align.push_back(work_align(k));
          }
        }
        pieces.spans.push_back(Span{off, static_cast<uint32_t>(pieces.bytes.size()) - off,
                                    orig_begin(b), orig_end(e)});
      }
    }
    return OkStatus();
  }

 private:
  bool add_prefix_space_;
  bool raw_;
  std::unique_ptr<Scanner> scanner_;
};

}  // namespace

Result<PreTokenizerPtr> make_byte_level_pre_tokenizer(const json::json& j, const std::string& path,
                                                      const StageOptions& options) {
  KEEL_ASSIGN_OR_RETURN(bool add_prefix_space, json::opt_bool(j, "add_prefix_space", path, true));
  KEEL_ASSIGN_OR_RETURN(bool trim_offsets, json::opt_bool(j, "trim_offsets", path, true));
  KEEL_ASSIGN_OR_RETURN(bool use_regex, json::opt_bool(j, "use_regex", path, true));
  (void)trim_offsets;  // validated only: it affects post-processing offsets
  return PreTokenizerPtr(
      std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex, options.byte_level_raw));
}

}  // namespace keel::tokenizer
