// Whitespace: HF's Whitespace pre-tokenizer, the regex `\w+|[^\w\s]+` (Rust
// regex crate semantics), keeping the matches and dropping everything else.
#include "keel/tokenizer/pre_tokenizers/builders.h"
#include "keel/tokenizer/pre_tokenizers/scanner_util.h"

namespace keel::tokenizer {

namespace {

// Contract: each piece becomes its maximal runs of word characters (regex
// crate \w) and of characters that are neither word nor space; spaces are
// dropped. Hand-written (no regex engine). Immutable; thread-safe.
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  Status pre_tokenize(PieceList& pieces) const override {
    return split_each(
        pieces, [](const Span& span, std::string_view text, std::vector<Span>& out) -> Status {
          const scan::Text t(text);
          constexpr uint8_t kWord = unicode::kWord;
          constexpr uint8_t kWordOrSpace = unicode::kWord | unicode::kSpace;
          size_t i = 0;
          while (i < t.size()) {
            const scan::Char c = t.at(i);
            size_t end;
            if (c.props & kWord) {
              end = t.run_end(i + c.len, kWord);
            } else if (!(c.props & unicode::kSpace)) {
              end = t.run_end_not(i + c.len, kWordOrSpace);
            } else {
              i += c.len;
              continue;
            }
            out.push_back(sub_span(span, static_cast<uint32_t>(i), static_cast<uint32_t>(end)));
            i = end;
          }
          return OkStatus();
        });
  }
};

}  // namespace

Result<PreTokenizerPtr> make_whitespace_pre_tokenizer(const json::json&, const std::string&) {
  return PreTokenizerPtr(std::make_unique<WhitespacePreTokenizer>());
}

}  // namespace keel::tokenizer
