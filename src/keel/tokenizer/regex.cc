#include "keel/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "keel/core/utf8.h"
#include "keel/tokenizer/pre_tokenizers/unicode_props.h"

namespace keel::tokenizer {

namespace {

constexpr std::string_view kHexClassBody = "0-9a-fA-F";

// The body of a character class listing a property's code points, e.g.
// "\\x{41}-\\x{5a}\\x{61}-\\x{7a}...". Oniguruma's \s, \p{L} and \p{N} are
// spelled out from keel's tables because PCRE2's Unicode data may be older
// (and PCRE2's \s also matches U+180E, which Oniguruma's does not).
std::string class_body(std::span<const unicode::CodeRange> ranges) {
  std::string body;
  for (const unicode::CodeRange& r : ranges) {
    body += fmt::format("\\x{{{:x}}}", static_cast<uint32_t>(r.lo));
    if (r.hi != r.lo) body += fmt::format("-\\x{{{:x}}}", static_cast<uint32_t>(r.hi));
  }
  return body;
}

const std::string& space_body() {
  static const std::string body = class_body(unicode::ranges(unicode::kSpace));
  return body;
}
const std::string& word_body() {
  static const std::string body = class_body(unicode::onig_word_ranges());
  return body;
}
const std::string& digit_body() {
  static const std::string body = class_body(unicode::onig_digit_ranges());
  return body;
}
// Oniguruma's \b and \B, spelled with its own \w.
const std::string& word_boundary(bool negated) {
  static const std::string b =
      fmt::format("(?:(?<=[{0}])(?![{0}])|(?<![{0}])(?=[{0}]))", word_body());
  static const std::string nb =
      fmt::format("(?:(?<=[{0}])(?=[{0}])|(?<![{0}])(?![{0}]))", word_body());
  return negated ? nb : b;
}
const std::string& letter_body() {
  static const std::string body = class_body(unicode::ranges(unicode::kLetter));
  return body;
}
const std::string& number_body() {
  static const std::string body = class_body(unicode::ranges(unicode::kNumber));
  return body;
}

// Appends `body` as a class item (inside a class) or as a class of its own.
void append_class(std::string& out, std::string_view body, bool in_class, bool negated) {
  if (in_class) {
    out += body;
    return;
  }
  out += negated ? "[^" : "[";
  out += body;
  out += ']';
}

// For \p{X} / \P{X} / \p{^X} at p[i] == 'p' or 'P': the property's class body
// if keel spells X out, and the index of the closing brace.
const std::string* table_property(std::string_view p, size_t i, bool& negated, size_t& close) {
  if (i + 1 >= p.size() || p[i + 1] != '{') return nullptr;
  close = p.find('}', i + 2);
  if (close == std::string_view::npos) return nullptr;
  std::string_view name = p.substr(i + 2, close - i - 2);
  negated = p[i] == 'P';
  if (!name.empty() && name[0] == '^') {
    negated = !negated;
    name.remove_prefix(1);
  }
  if (name == "L" || name == "Letter") return &letter_body();
  if (name == "N" || name == "Number") return &number_body();
  return nullptr;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, sizeof(buf));
  if (n < 0) return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// Per-thread match state: one ovector pair is enough (only group 0 is read;
// PCRE2 fills as much as fits), and a JIT stack larger than the default so
// long whitespace runs with lookahead do not exhaust it.
struct ThreadMatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  ThreadMatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    if (context != nullptr && jit_stack != nullptr) {
      pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
  }
  ~ThreadMatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

struct Regex::Impl {
  std::string pattern;
  std::string translated;
  pcre2_code* code = nullptr;
  bool jit = false;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { pcre2_code_free(code); }
};

Result<std::string> translate_oniguruma(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 16);
  int class_depth = 0;  // inside [...] (Oniguruma allows nested classes)
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) {
        return InvalidArgumentError("regex '{}': trailing backslash at offset {}", p, i);
      }
      const char e = p[i + 1];
      ++i;
      bool negated = false;
      size_t close = 0;
      const std::string* prop = nullptr;
      if (e == 's' || (e == 'S' && class_depth == 0)) {
        append_class(out, space_body(), class_depth > 0, e == 'S');
      } else if (e == 'w' || (e == 'W' && class_depth == 0)) {
        append_class(out, word_body(), class_depth > 0, e == 'W');
      } else if (e == 'd' || (e == 'D' && class_depth == 0)) {
        append_class(out, digit_body(), class_depth > 0, e == 'D');
      } else if ((e == 'b' || e == 'B') && class_depth == 0) {
        out += word_boundary(e == 'B');
      } else if (e == 'h' || (e == 'H' && class_depth == 0)) {
        append_class(out, kHexClassBody, class_depth > 0, e == 'H');
      } else if ((e == 'p' || e == 'P') &&
                 (prop = table_property(p, i, negated, close)) != nullptr &&
                 !(negated && class_depth > 0)) {
        append_class(out, *prop, class_depth > 0, negated);
        i = close;
      } else if ((e == 'p' || e == 'P') && i + 2 < p.size() && p[i + 1] == '{' && p[i + 2] == '^') {
        // Oniguruma's \p{^L} is \P{L}.
        out += e == 'p' ? "\\P{" : "\\p{";
        i += 2;
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (class_depth > 0 && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      // A POSIX bracket such as [:alpha:] (same in both dialects).
      const size_t close = p.find(":]", i + 2);
      if (close != std::string_view::npos) {
        out.append(p.substr(i, close + 2 - i));
        i = close + 1;
        continue;
      }
    }
    if (class_depth > 0 && (c == '[' || (c == '&' && i + 1 < p.size() && p[i + 1] == '&'))) {
      // PCRE2 would read these as literal characters: refuse rather than
      // silently match something else.
      return UnimplementedError(
          "regex '{}': Oniguruma {} at offset {} is not supported by keel's PCRE2 translation", p,
          c == '[' ? "nested character classes" : "class intersection (&&)", i);
    }
    if (c == '[') {
      ++class_depth;
      out += c;
      // A ']' right after '[' or '[^' is a literal in both dialects.
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out += '^';
        ++i;
      }
      if (i + 1 < p.size() && p[i + 1] == ']') {
        out += ']';
        ++i;
      }
      continue;
    }
    if (c == ']' && class_depth > 0) {
      --class_depth;
      out += c;
      continue;
    }
    if (c == '(' && class_depth == 0 && i + 1 < p.size() && p[i + 1] == '?') {
      // Inline options: Oniguruma's (?m) is PCRE2's (?s) (dot matches \n).
      out += "(?";
      size_t j = i + 2;
      while (j < p.size() && (p[j] == 'i' || p[j] == 'm' || p[j] == 'x' || p[j] == '-')) {
        out += p[j] == 'm' ? 's' : p[j];
        ++j;
      }
      i = j - 1;
      continue;
    }
    out += c;
  }
  return out;
}

std::string Regex::escape(std::string_view literal) {
  std::string out;
  out.reserve(literal.size() * 2);
  for (const char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    const bool alnum = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
    // A backslash before any ASCII non-alphanumeric is a literal in both
    // PCRE2 and Oniguruma; bytes >= 0x80 are parts of UTF-8 characters.
    if (u < 0x80 && !alnum && u >= 0x20) out += '\\';
    if (u < 0x20) {
      out += fmt::format("\\x{{{:x}}}", u);
      continue;
    }
    out += c;
  }
  return out;
}

Result<Regex> Regex::compile(std::string_view pattern) {
  auto impl = std::make_shared<Impl>();
  impl->pattern = std::string(pattern);
  KEEL_ASSIGN_OR_RETURN(impl->translated, translate_oniguruma(pattern));
  if (const size_t bad = utf8::find_invalid(impl->translated); bad != std::string::npos) {
    return InvalidArgumentError("regex '{}': invalid UTF-8 at byte {}", pattern, bad);
  }
  pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
  if (cc == nullptr) return ResourceExhaustedError("regex: cannot allocate a compile context");
  pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  // Ruby/Oniguruma semantics: ^ and $ are line anchors.
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE;
  impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(impl->translated.data()),
                             impl->translated.size(), options, &err, &err_offset, cc);
  pcre2_compile_context_free(cc);
  if (impl->code == nullptr) {
    return InvalidArgumentError("regex '{}' does not compile: {} (at offset {} of '{}')", pattern,
                                pcre2_message(err), err_offset, impl->translated);
  }
  impl->jit = pcre2_jit_compile(impl->code, PCRE2_JIT_COMPLETE) == 0;
  return Regex(std::move(impl));
}

Result<Regex> Regex::compile_literal(std::string_view literal) { return compile(escape(literal)); }

Result<std::optional<RegexMatch>> Regex::find(std::string_view text, size_t start) const {
  if (start > text.size()) return std::optional<RegexMatch>();
  ThreadMatchState& ts = thread_state();
  if (ts.data == nullptr) return ResourceExhaustedError("regex: cannot allocate match data");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  int rc = pcre2_match(impl_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, ts.data,
                       ts.context);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
    rc = pcre2_match(impl_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                     ts.data, ts.context);
  }
  if (rc == PCRE2_ERROR_NOMATCH) return std::optional<RegexMatch>();
  if (rc < 0) {
    return InternalError("regex '{}': matching failed at byte {} of a {}-byte text: {}",
                         impl_->pattern, start, text.size(), pcre2_message(rc));
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ts.data);
  return std::optional<RegexMatch>(RegexMatch{ov[0], ov[1]});
}

Status Regex::find_all(std::string_view text, std::vector<RegexMatch>& out) const {
  size_t last_end = 0;
  std::optional<size_t> last_match_end;
  while (last_end <= text.size()) {
    KEEL_ASSIGN_OR_RETURN(std::optional<RegexMatch> m, find(text, last_end));
    if (!m) break;
    if (m->begin == m->end && last_match_end && *last_match_end == m->end) {
      // An empty match where the previous one ended: step over one character.
      if (last_end >= text.size()) break;
      const int len = utf8::sequence_length(static_cast<unsigned char>(text[last_end]));
      last_end += len > 0 ? static_cast<size_t>(len) : 1;
      continue;
    }
    last_end = m->end;
    last_match_end = m->end;
    out.push_back(*m);
  }
  return OkStatus();
}

Result<std::vector<RegexMatch>> Regex::find_all(std::string_view text) const {
  std::vector<RegexMatch> out;
  KEEL_RETURN_IF_ERROR(find_all(text, out));
  return out;
}

const std::string& Regex::pattern() const { return impl_->pattern; }
const std::string& Regex::translated_pattern() const { return impl_->translated; }
bool Regex::jit() const { return impl_->jit; }

}  // namespace keel::tokenizer
