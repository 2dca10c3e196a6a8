#include "keel/template/lexer.h"

#include <cctype>
#include <cstring>

#include "keel/core/utf8.h"

namespace keel::jinja {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Python str.rstrip() on text: ASCII whitespace plus the separators 0x1c-0x1f
// (multi-byte Unicode spaces before a tag are left; Jinja2 would strip them).
std::string_view rstrip(std::string_view s) {
  size_t e = s.size();
  while (e > 0 && (is_ws(s[e - 1]) || (s[e - 1] >= 0x1c && s[e - 1] <= 0x1f))) --e;
  return s.substr(0, e);
}

class Lexer {
 public:
  Lexer(std::string source, const LexOptions& options) : src_(std::move(source)), opt_(options) {}

  Result<std::vector<Token>> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t open = find_open(pos_);
      if (open == std::string::npos) {
        emit_data(pos_, src_.size() - pos_, std::string_view(src_).substr(pos_));
        pos_ = src_.size();
        break;
      }
      char kind = src_[open + 1];
      char sign = open + 2 < src_.size() ? src_[open + 2] : '\0';
      if (sign != '-' && sign != '+') sign = '\0';
      std::string_view text = std::string_view(src_).substr(pos_, open - pos_);
      if (sign == '-') {
        text = rstrip(text);
      } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        size_t nl = text.rfind('\n');
        size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting) {
          bool only_space = true;
          for (size_t i = l_pos; i < text.size(); ++i) {
            if (text[i] != ' ' && text[i] != '\t') only_space = false;
          }
          if (only_space) text = text.substr(0, l_pos);
        }
      }
      emit_data(pos_, text.size(), text);
      size_t after_open = open + 2 + (sign ? 1 : 0);
      if (kind == '%' && is_raw_begin(after_open)) {
        KEEL_RETURN_IF_ERROR(lex_raw(open));
        line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
        continue;
      }
      pos_ = after_open;
      if (kind == '#') {
        KEEL_RETURN_IF_ERROR(lex_comment(open));
      } else {
        KEEL_RETURN_IF_ERROR(lex_tag(open, kind == '%'));
      }
      line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
    }
    tokens_.push_back(Token{TokenType::kEof, "", line_of(src_.size()), col_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  size_t find_open(size_t from) const {
    size_t p = from;
    while ((p = src_.find('{', p)) != std::string::npos) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#'))
        return p;
      ++p;
    }
    return std::string::npos;
  }

  int line_of(size_t offset) const {
    int line = 1;
    for (size_t i = 0; i < offset && i < src_.size(); ++i) line += src_[i] == '\n';
    return line;
  }
  int col_of(size_t offset) const {
    size_t nl = offset == 0 ? std::string::npos : src_.rfind('\n', offset - 1);
    return static_cast<int>(offset - (nl == std::string::npos ? 0 : nl + 1)) + 1;
  }

  Status error_at(size_t offset, std::string_view what) const {
    return InvalidArgumentError("line {}, column {}: {}", line_of(offset), col_of(offset), what);
  }

  void emit_data(size_t offset, size_t, std::string_view text) {
    if (text.empty()) return;
    tokens_.push_back(Token{TokenType::kData, std::string(text), line_of(offset), col_of(offset)});
  }
  void emit(TokenType type, std::string value, size_t offset) {
    tokens_.push_back(Token{type, std::move(value), line_of(offset), col_of(offset)});
  }

  size_t skip_ws(size_t p) const {
    while (p < src_.size() && is_ws(src_[p])) ++p;
    return p;
  }

  // `{%[-+]? raw [-]?%}` at p (just after the opener and its sign).
  bool is_raw_begin(size_t p) const {
    p = skip_ws(p);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p = skip_ws(p + 3);
    return src_.compare(p, 2, "%}") == 0 || src_.compare(p, 3, "-%}") == 0;
  }

  Status lex_raw(size_t open) {
    size_t p = skip_ws(src_.find("raw", open) + 3);
    if (src_[p] == '-') {
      p = skip_ws(p + 3);
    } else {
      p += 2;
    }
    // Find `{%[-+]? endraw [-+]?%}`.
    size_t search = p;
    while (true) {
      size_t tag = src_.find("{%", search);
      if (tag == std::string::npos) return error_at(open, "Missing end of raw directive");
      char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      size_t q = skip_ws(tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0));
      if (src_.compare(q, 6, "endraw") != 0) {
        search = tag + 2;
        continue;
      }
      q = skip_ws(q + 6);
      size_t end;
      if (src_.compare(q, 3, "+%}") == 0) {
        end = q + 3;
      } else if (src_.compare(q, 3, "-%}") == 0) {
        end = skip_ws(q + 3);
      } else if (src_.compare(q, 2, "%}") == 0) {
        end = q + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      } else {
        search = tag + 2;
        continue;
      }
      std::string_view text = std::string_view(src_).substr(p, tag - p);
      if (sign == '-') {
        text = rstrip(text);
      } else if (sign != '+' && opt_.lstrip_blocks) {
        size_t nl = text.rfind('\n');
        size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        bool only_space = l_pos > 0;
        for (size_t i = l_pos; i < text.size() && only_space; ++i) {
          if (text[i] != ' ' && text[i] != '\t') only_space = false;
        }
        if (only_space) text = text.substr(0, l_pos);
      }
      emit_data(p, text.size(), text);
      pos_ = end;
      return OkStatus();
    }
  }

  Status lex_comment(size_t open) {
    size_t p = src_.find("#}", pos_);
    if (p == std::string::npos) return error_at(open, "Missing end of comment tag");
    size_t end = p + 2;
    if (p > pos_ && src_[p - 1] == '-') {
      end = skip_ws(end);
    } else if (p > pos_ && src_[p - 1] == '+') {
      // keep
    } else if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    pos_ = end;
    return OkStatus();
  }

  // Expression tokens up to the closing `%}` / `}}`.
  Status lex_tag(size_t open, bool block) {
    emit(block ? TokenType::kBlockBegin : TokenType::kVarBegin, "", open);
    std::vector<char> balance;
    const char* close = block ? "%}" : "}}";
    while (true) {
      if (pos_ >= src_.size()) {
        return error_at(open, block ? "unexpected end of template, expected 'end of statement block'"
                                    : "unexpected end of template, expected 'end of print statement'");
      }
      if (balance.empty()) {
        if (block && src_.compare(pos_, 3, "+%}") == 0) {
          emit(TokenType::kBlockEnd, "", pos_);
          pos_ += 3;
          return OkStatus();
        }
        if (src_.compare(pos_, 3, std::string("-") + close) == 0) {
          emit(block ? TokenType::kBlockEnd : TokenType::kVarEnd, "", pos_);
          pos_ = skip_ws(pos_ + 3);
          return OkStatus();
        }
        if (src_.compare(pos_, 2, close) == 0) {
          emit(block ? TokenType::kBlockEnd : TokenType::kVarEnd, "", pos_);
          pos_ += 2;
          if (block && opt_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') ++pos_;
          return OkStatus();
        }
      }
      char c = src_[pos_];
      if (is_ws(c)) {
        ++pos_;
        continue;
      }
      if (is_digit(c)) {
        KEEL_RETURN_IF_ERROR(lex_number());
        continue;
      }
      if (is_name_start(c)) {
        size_t s = pos_;
        while (pos_ < src_.size() && is_name_char(src_[pos_])) ++pos_;
        emit(TokenType::kName, src_.substr(s, pos_ - s), s);
        continue;
      }
      if (c == '\'' || c == '"') {
        KEEL_RETURN_IF_ERROR(lex_string());
        continue;
      }
      static const char* kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%",
                                   "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":",
                                   "|", ",", ";"};
      bool matched = false;
      for (const char* op : kOps) {
        size_t n = std::strlen(op);
        if (src_.compare(pos_, n, op) != 0) continue;
        if (n == 1 && (c == '(' || c == '[' || c == '{')) balance.push_back(c);
        if (n == 1 && (c == ')' || c == ']' || c == '}')) {
          char want = c == ')' ? '(' : c == ']' ? '[' : '{';
          if (balance.empty()) return error_at(pos_, fmt::format("unexpected '{}'", c));
          if (balance.back() != want) {
            char expected = balance.back() == '(' ? ')' : balance.back() == '[' ? ']' : '}';
            return error_at(pos_, fmt::format("unexpected '{}', expected '{}'", c, expected));
          }
          balance.pop_back();
        }
        emit(TokenType::kOperator, op, pos_);
        pos_ += n;
        matched = true;
        break;
      }
      if (!matched) return error_at(pos_, fmt::format("unexpected char '{}'", c));
    }
  }

  Status lex_number() {
    size_t s = pos_;
    auto digits = [&](size_t p) {
      // (\d+_)*\d+
      size_t q = p;
      if (q >= src_.size() || !is_digit(src_[q])) return p;
      while (q < src_.size() && is_digit(src_[q])) {
        ++q;
        if (q + 1 < src_.size() && src_[q] == '_' && is_digit(src_[q + 1])) ++q;
      }
      return q;
    };
    size_t p = digits(s);
    bool is_float = false;
    if (p < src_.size() && src_[p] == '.' && p + 1 < src_.size() && is_digit(src_[p + 1])) {
      p = digits(p + 1);
      is_float = true;
    }
    if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      size_t r = digits(q);
      if (r > q) {
        p = r;
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = s; i < p; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    emit(is_float ? TokenType::kFloat : TokenType::kInteger, std::move(text), s);
    pos_ = p;
    return OkStatus();
  }

  // Python's "unicode-escape" decoding of the literal's body.
  Status lex_string() {
    size_t s = pos_;
    char quote = src_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) return error_at(s, "unexpected end of string literal");
      char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= src_.size()) return error_at(s, "unexpected end of string literal");
      char e = src_[pos_ + 1];
      pos_ += 2;
      auto hex = [&](int n) -> Result<char32_t> {
        char32_t v = 0;
        for (int i = 0; i < n; ++i) {
          if (pos_ >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[pos_])))
            return error_at(pos_, "truncated \\x, \\u or \\U escape in string literal");
          char h = src_[pos_++];
          v = v * 16 + static_cast<char32_t>(is_digit(h) ? h - '0' : (std::tolower(h) - 'a' + 10));
        }
        return v;
      };
      switch (e) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x':
        case 'u':
        case 'U': {
          KEEL_ASSIGN_OR_RETURN(char32_t cp, hex(e == 'x' ? 2 : e == 'u' ? 4 : 8));
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
          utf8::append(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = static_cast<char32_t>(e - '0');
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i)
              v = v * 8 + static_cast<char32_t>(src_[pos_++] - '0');
            utf8::append(out, v);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    emit(TokenType::kString, std::move(out), s);
    return OkStatus();
  }

  std::string src_;
  LexOptions opt_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
};

std::string normalize_newlines(std::string_view source, bool keep_trailing_newline) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

Result<std::vector<Token>> lex(std::string_view source, const LexOptions& options) {
  Lexer lexer(normalize_newlines(source, options.keep_trailing_newline), options);
  return lexer.run();
}

}  // namespace keel::jinja
