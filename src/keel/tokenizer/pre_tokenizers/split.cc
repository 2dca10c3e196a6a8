// Split: splits pieces on a regex or literal pattern (HF's Split).
#include <optional>

#include "keel/tokenizer/pre_tokenizers/builders.h"
#include "keel/tokenizer/pre_tokenizers/scanner.h"

namespace keel::tokenizer {

namespace {

// Contract: each piece is split where `regex_` matches, the matches treated
// per `behavior_` (flags flipped first with `invert_`). When the pattern is
// one keel has a hand-written scanner for, the scanner is used instead of
// PCRE2 (identical results). Immutable; thread-safe.
class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Regex regex, SplitBehavior behavior, bool invert)
      : regex_(std::move(regex)),
        scanner_(make_scanner(regex_.pattern())),
        behavior_(behavior),
        invert_(invert) {}

  Status pre_tokenize(PieceList& pieces) const override {
    return split_each(
        pieces, [&](const Span& span, std::string_view text, std::vector<Span>& out) -> Status {
          if (scanner_ != nullptr && behavior_ == SplitBehavior::kIsolated) {
            scanner_->scan_spans(text, span, out);  // same spans as below, one pass
            return OkStatus();
          }
          SplitScratch& scratch = split_scratch();
          std::vector<RegexMatch>& matches = scratch.matches;
          matches.clear();
          if (scanner_ != nullptr) {
            scanner_->scan(text, matches);
          } else {
            KEEL_RETURN_IF_ERROR(regex_.find_all(text, matches));
          }
          if (behavior_ == SplitBehavior::kIsolated) {
            // Matches and the gaps between them are all kept, whatever `invert_`.
            uint32_t prev = 0;
            for (const RegexMatch& m : matches) {
              const auto b = static_cast<uint32_t>(m.begin);
              const auto e = static_cast<uint32_t>(m.end);
              if (prev < b) out.push_back(sub_span(span, prev, b));
              if (b < e) out.push_back(sub_span(span, b, e));
              prev = e;
            }
            if (prev < text.size()) {
              out.push_back(sub_span(span, prev, static_cast<uint32_t>(text.size())));
            }
            return OkStatus();
          }
          matches_to_segments(matches, text.size(), invert_, scratch.segments);
          emit_splits(span, scratch.segments, behavior_, out);
          return OkStatus();
        });
  }

 private:
  Regex regex_;
  std::unique_ptr<Scanner> scanner_;
  SplitBehavior behavior_;
  bool invert_;
};

}  // namespace

Result<PreTokenizerPtr> make_split_pre_tokenizer(const json::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const json::json* pattern, json::get_object(j, "pattern", path));
  const std::string pattern_path = json::child_path(path, "pattern");
  std::optional<Regex> regex;
  if (pattern->contains("Regex")) {
    KEEL_ASSIGN_OR_RETURN(std::string re, json::get_string(*pattern, "Regex", pattern_path));
    auto compiled = Regex::compile(re);
    if (!compiled.ok()) return compiled.status().with_context(pattern_path + ".Regex");
    regex = std::move(compiled).value();
  } else if (pattern->contains("String")) {
    KEEL_ASSIGN_OR_RETURN(std::string s, json::get_string(*pattern, "String", pattern_path));
    auto compiled = Regex::compile_literal(s);
    if (!compiled.ok()) return compiled.status().with_context(pattern_path + ".String");
    regex = std::move(compiled).value();
  } else {
    return InvalidArgumentError("{}: expected an object with a \"Regex\" or \"String\" member",
                                pattern_path);
  }
  KEEL_ASSIGN_OR_RETURN(std::string behavior_name, json::get_string(j, "behavior", path));
  KEEL_ASSIGN_OR_RETURN(SplitBehavior behavior,
                        parse_split_behavior(behavior_name, json::child_path(path, "behavior")));
  KEEL_ASSIGN_OR_RETURN(bool invert, json::opt_bool(j, "invert", path, false));
  return PreTokenizerPtr(std::make_unique<SplitPreTokenizer>(std::move(*regex), behavior, invert));
}

}  // namespace keel::tokenizer
