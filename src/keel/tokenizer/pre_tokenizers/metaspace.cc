// Metaspace: SentencePiece-style spaces (HF's Metaspace).
#include "keel/core/utf8.h"
#include "keel/tokenizer/pre_tokenizers/builders.h"

namespace keel::tokenizer {

namespace {

enum class PrependScheme { kFirst, kAlways, kNever };

// Contract: for each piece, every ' ' becomes `replacement_`; then the
// replacement is prepended unless the piece already starts with it — always
// (kAlways), only for the piece at original offset 0 (kFirst), or never;
// then, with `split_`, the piece is split before every replacement character
// (HF: split on the char with MergedWithNext). "First" means the piece starts
// at original offset 0 (HF's offsets_original), which needs alignments when
// a normalizer ran (uses_original_start). Rewritten bytes are appended
// to the arena; original offsets map each character to its source character
// (the prepended replacement to the piece start), and so do the alignments in
// offsets mode. Immutable; thread-safe.
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : scheme_(scheme), split_(split) {
    utf8::append(replacement_, replacement);
  }

  Status pre_tokenize(PieceList& pieces) const override {
    SplitScratch& scratch = split_scratch();
    std::vector<Span>& old = scratch.spans;
    old.clear();
    old.swap(pieces.spans);
    std::string& work = scratch.text;
    // (byte offset in `work`, byte offset in the source piece) at each
    // point where a new piece may start.
    std::vector<Segment>& cuts = scratch.segments;
    for (const Span& span : old) {
      if (span.length == 0) continue;
      work.assign(pieces.view(span));
      const std::string_view src = work;
      std::string out;
      out.reserve(src.size() + 8);
      cuts.clear();
      const bool starts_with_rep = src.starts_with(replacement_) || (src.front() == ' ');
      const bool prepend =
          !starts_with_rep && (scheme_ == PrependScheme::kAlways ||
                               (scheme_ == PrependScheme::kFirst && starts_input(pieces, span)));
      // Offsets mode: the alignment of each byte of `out` (HF: a replaced
      // space keeps its own, the prepended replacement takes the first
      // character's).
      std::vector<Alignment>& out_align = scratch.align;
      out_align.clear();
      auto src_align = [&](size_t i) { return pieces.align[span.offset + i]; };
      if (prepend) {
        out += replacement_;
        if (pieces.aligned) out_align.insert(out_align.end(), replacement_.size(), src_align(0));
      }
      for (size_t i = 0; i < src.size();) {
        const bool is_space = src[i] == ' ';
        const bool is_rep = is_space || src.compare(i, replacement_.size(), replacement_) == 0;
        if (is_rep && split_ && (!out.empty() || i > 0)) {
          cuts.push_back(
              Segment{static_cast<uint32_t>(out.size()), static_cast<uint32_t>(i), true});
        }
        if (is_space) {
          out += replacement_;
          if (pieces.aligned) out_align.insert(out_align.end(), replacement_.size(), src_align(i));
          ++i;
          continue;
        }
        const int n = utf8::sequence_length(static_cast<unsigned char>(src[i]));
        const size_t len = n > 0 ? static_cast<size_t>(n) : 1;
        out.append(src.substr(i, len));
        if (pieces.aligned) {
          for (size_t k = 0; k < len && i + k < src.size(); ++k) {
            out_align.push_back(src_align(i + k));
          }
        }
        i += len;
      }
      const auto base = static_cast<uint32_t>(pieces.bytes.size());
      pieces.bytes.append(out);
      if (pieces.aligned) {
        pieces.align.insert(pieces.align.end(), out_align.begin(), out_align.end());
      }
      uint32_t begin = 0;
      uint32_t src_begin = 0;
      for (const Segment& cut : cuts) {
        if (cut.begin > begin) {
          pieces.spans.push_back(Span{base + begin, cut.begin - begin, map_offset(span, src_begin),
                                      map_offset(span, cut.end)});
        }
        begin = cut.begin;
        src_begin = cut.end;
      }
      pieces.spans.push_back(Span{base + begin, static_cast<uint32_t>(out.size()) - begin,
                                  map_offset(span, src_begin), span.orig_end});
    }
    return OkStatus();
  }

  bool uses_original_start() const override { return scheme_ == PrependScheme::kFirst; }

 private:
  // HF's `offsets_original().0 == 0`: exact from the alignments when there
  // are any, else from the span's original range.
  static bool starts_input(const PieceList& pieces, const Span& span) {
    if (pieces.aligned) return pieces.align[span.offset].begin == 0;
    return span.orig_begin == 0;
  }

  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

}  // namespace

Result<PreTokenizerPtr> make_metaspace_pre_tokenizer(const json::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(char32_t replacement, json::get_char(j, "replacement", path));
  KEEL_ASSIGN_OR_RETURN(std::string scheme_name,
                        json::opt_string(j, "prepend_scheme", path, "always"));
  PrependScheme scheme;
  if (scheme_name == "always") {
    scheme = PrependScheme::kAlways;
  } else if (scheme_name == "first") {
    scheme = PrependScheme::kFirst;
  } else if (scheme_name == "never") {
    scheme = PrependScheme::kNever;
  } else {
    return InvalidArgumentError(
        "{}: unknown prepend_scheme '{}' (expected \"first\", \"always\" or \"never\")",
        json::child_path(path, "prepend_scheme"), scheme_name);
  }
  // Legacy field: as in HF, add_prefix_space: false must agree with the
  // (defaulted) prepend_scheme; true changes nothing.
  KEEL_ASSIGN_OR_RETURN(bool add_prefix_space, json::opt_bool(j, "add_prefix_space", path, true));
  if (!add_prefix_space && scheme != PrependScheme::kNever) {
    return InvalidArgumentError(
        "{}: add_prefix_space is false but prepend_scheme is \"{}\"; they must agree (set "
        "prepend_scheme to \"never\")",
        path, scheme_name);
  }
  KEEL_ASSIGN_OR_RETURN(bool split, json::opt_bool(j, "split", path, true));
  return PreTokenizerPtr(std::make_unique<MetaspacePreTokenizer>(replacement, scheme, split));
}

}  // namespace keel::tokenizer
