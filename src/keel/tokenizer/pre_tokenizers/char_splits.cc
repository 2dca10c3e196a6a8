// Pre-tokenizers that split on single characters chosen by a predicate:
// Digits, Punctuation, WhitespaceSplit, CharDelimiterSplit, BertPreTokenizer.
// Each character satisfying the predicate is its own match (HF's Pattern for
// Fn(char) -> bool); the behavior decides what becomes of the matches.
#include "keel/tokenizer/pre_tokenizers/builders.h"
#include "keel/tokenizer/pre_tokenizers/unicode_props.h"

namespace keel::tokenizer {

namespace {

// Contract: splits each piece on the characters whose unicode::props() has
// any bit of `mask_`, per `behavior_`. Immutable; thread-safe.
class CharClassSplit final : public PreTokenizer {
 public:
  CharClassSplit(uint8_t mask, SplitBehavior behavior) : mask_(mask), behavior_(behavior) {}

  Status pre_tokenize(PieceList& pieces) const override {
    return split_each(
        pieces, [&](const Span& span, std::string_view text, std::vector<Span>& out) -> Status {
          std::vector<Segment>& segments = split_scratch().segments;
          char_class_segments(text, mask_, segments);
          emit_splits(span, segments, behavior_, out);
          return OkStatus();
        });
  }

 private:
  uint8_t mask_;
  SplitBehavior behavior_;
};

// Contract: removes every occurrence of `delimiter_`, splitting there
// (HF's CharDelimiterSplit). Immutable; thread-safe.
class CharDelimiterSplit final : public PreTokenizer {
 public:
  explicit CharDelimiterSplit(char32_t delimiter) : delimiter_(delimiter) {}

  Status pre_tokenize(PieceList& pieces) const override {
    return split_each(
        pieces, [&](const Span& span, std::string_view text, std::vector<Span>& out) -> Status {
          std::vector<Segment>& segments = split_scratch().segments;
          char_segments(text, delimiter_, segments);
          emit_splits(span, segments, SplitBehavior::kRemoved, out);
          return OkStatus();
        });
  }

 private:
  char32_t delimiter_;
};

// Contract: HF's BertPreTokenizer — split on whitespace (removed), then
// isolate each punctuation character. Immutable; thread-safe.
class BertPreTokenizer final : public PreTokenizer {
 public:
  Status pre_tokenize(PieceList& pieces) const override {
    KEEL_RETURN_IF_ERROR(whitespace_.pre_tokenize(pieces));
    return punctuation_.pre_tokenize(pieces);
  }

 private:
  CharClassSplit whitespace_{unicode::kWhitespace, SplitBehavior::kRemoved};
  CharClassSplit punctuation_{unicode::kPunctuation, SplitBehavior::kIsolated};
};

}  // namespace

Result<PreTokenizerPtr> make_digits_pre_tokenizer(const json::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(bool individual, json::opt_bool(j, "individual_digits", path, false));
  return PreTokenizerPtr(std::make_unique<CharClassSplit>(
      unicode::kNumeric, individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous));
}

Result<PreTokenizerPtr> make_punctuation_pre_tokenizer(const json::json& j,
                                                       const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string name, json::opt_string(j, "behavior", path, "Isolated"));
  KEEL_ASSIGN_OR_RETURN(SplitBehavior behavior,
                        parse_split_behavior(name, json::child_path(path, "behavior")));
  return PreTokenizerPtr(std::make_unique<CharClassSplit>(unicode::kPunctuation, behavior));
}

Result<PreTokenizerPtr> make_whitespace_split_pre_tokenizer(const json::json&, const std::string&) {
  return PreTokenizerPtr(
      std::make_unique<CharClassSplit>(unicode::kWhitespace, SplitBehavior::kRemoved));
}

Result<PreTokenizerPtr> make_char_delimiter_split_pre_tokenizer(const json::json& j,
                                                                const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(char32_t delimiter, json::get_char(j, "delimiter", path));
  return PreTokenizerPtr(std::make_unique<CharDelimiterSplit>(delimiter));
}

Result<PreTokenizerPtr> make_bert_pre_tokenizer(const json::json&, const std::string&) {
  return PreTokenizerPtr(std::make_unique<BertPreTokenizer>());
}

}  // namespace keel::tokenizer
