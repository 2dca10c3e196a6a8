#include "keel/tokenizer/pre_tokenizers/scanner.h"

#include "keel/tokenizer/pre_tokenizers/scanner_util.h"
#include "keel/tokenizer/pre_tokenizers/split_util.h"

namespace keel::tokenizer {

namespace {

using scan::Char;
using scan::Text;
using unicode::kLetter;
using unicode::kNumber;
using unicode::kSpace;

constexpr uint8_t kLNS = kLetter | kNumber | kSpace;

// GPT-2:  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Every position starts a match, so matches tile the text.
class Gpt2Scanner final : public Scanner {
 public:
  void scan(std::string_view s, std::vector<RegexMatch>& out) const override {
    tile(s, [&](size_t b, size_t e) { out.push_back(RegexMatch{b, e}); });
  }
  void scan_spans(std::string_view s, const Span& span, std::vector<Span>& out) const override {
    tile(s, [&](size_t b, size_t e) {
      out.push_back(sub_span(span, static_cast<uint32_t>(b), static_cast<uint32_t>(e)));
    });
  }
  std::string_view name() const override { return "gpt2"; }

 private:
  template <typename F>
  static void tile(std::string_view s, F&& emit) {
    const Text t(s);
    for (size_t i = 0; i < t.size();) {
      const size_t end = match_at(t, i);
      emit(i, end);
      i = end;
    }
  }

  static size_t match_at(const Text& t, size_t i) {
    if (t.byte(i) == '\'') {
      if (const size_t n = scan::contraction_length(t, i, false)) return i + n;
    }
    Char c = t.at(i);
    size_t start = i;  // where the class run starts (after an optional ' ')
    if (c.cp == ' ' && i + 1 < t.size()) {
      const Char next = t.at(i + 1);
      if (!(next.props & kSpace)) {
        c = next;
        start = i + 1;
      }
    }
    if (c.props & kLetter) return t.run_end(start + c.len, kLetter);
    if (c.props & kNumber) return t.run_end(start + c.len, kNumber);
    if (!(c.props & kSpace)) return t.run_end_not(start + c.len, kLNS);
    const size_t j = t.run_end(i, kSpace);
    return scan::trailing_space_end(t, i, j);
  }
};

// Llama-3 (cl100k) and Qwen2:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with at most `kMaxDigits` digits per number match. Matches tile the text.
template <int kMaxDigits>
class Cl100kScanner final : public Scanner {
 public:
  explicit Cl100kScanner(std::string_view name) : name_(name) {}

  void scan(std::string_view s, std::vector<RegexMatch>& out) const override {
    tile(s, [&](size_t b, size_t e) { out.push_back(RegexMatch{b, e}); });
  }
  void scan_spans(std::string_view s, const Span& span, std::vector<Span>& out) const override {
    tile(s, [&](size_t b, size_t e) {
      out.push_back(sub_span(span, static_cast<uint32_t>(b), static_cast<uint32_t>(e)));
    });
  }
  std::string_view name() const override { return name_; }

 private:
  template <typename F>
  static void tile(std::string_view s, F&& emit) {
    const Text t(s);
    for (size_t i = 0; i < t.size();) {
      const size_t end = match_at(t, i);
      emit(i, end);
      i = end;
    }
  }

  static bool is_cr_lf(char32_t c) { return c == '\r' || c == '\n'; }

  static size_t match_at(const Text& t, size_t i) {
    const unsigned char b = t.byte(i);
    // Fast path: ASCII letters, the commonest start.
    if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') return t.run_end(i + 1, kLetter);
    if (b == '\'') {
      if (const size_t n = scan::contraction_length(t, i, true)) return i + n;
    }
    const Char c = t.at(i);
    if (c.props & kLetter) return t.run_end(i + c.len, kLetter);
    if (c.props & kNumber) {
      size_t j = i + c.len;
      for (int k = 1; k < kMaxDigits && j < t.size(); ++k) {
        const Char d = t.at(j);
        if (!(d.props & kNumber)) break;
        j += d.len;
      }
      return j;
    }
    const size_t after = i + c.len;
    const bool has_next = after < t.size();
    const Char next = has_next ? t.at(after) : Char{0, 0, 0};
    // [^\r\n\p{L}\p{N}]?\p{L}+  (c is neither L nor N here)
    if (has_next && !is_cr_lf(c.cp) && (next.props & kLetter)) {
      return t.run_end(after + next.len, kLetter);
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    size_t run = 0;
    if (!(c.props & kSpace)) {
      run = t.run_end_not(after, kLNS);
    } else if (c.cp == ' ' && has_next && !(next.props & kLNS)) {
      run = t.run_end_not(after + next.len, kLNS);
    }
    if (run != 0) {
      while (run < t.size() && (t.byte(run) == '\r' || t.byte(run) == '\n')) ++run;
      return run;
    }
    // c is whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
    const size_t j = t.run_end(i, kSpace);
    for (size_t k = j; k > i; --k) {
      const unsigned char e = t.byte(k - 1);
      if (e == '\r' || e == '\n') return k;
    }
    return scan::trailing_space_end(t, i, j);
  }

  std::string_view name_;
};

}  // namespace

std::unique_ptr<Scanner> make_scanner(std::string_view pattern) {
  if (pattern == kGpt2Pattern) return std::make_unique<Gpt2Scanner>();
  if (pattern == kLlama3Pattern) return std::make_unique<Cl100kScanner<3>>("llama3");
  if (pattern == kQwen2Pattern) return std::make_unique<Cl100kScanner<1>>("qwen2");
  return nullptr;
}

}  // namespace keel::tokenizer
