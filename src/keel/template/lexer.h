// Lexer: template source to tokens, reproducing Jinja2's lexer under
// transformers' settings — trim_blocks (one newline after a block or comment
// tag is dropped), lstrip_blocks (spaces and tabs before a block or comment
// tag at the start of a line are dropped), `-` / `+` whitespace control,
// keep_trailing_newline=False (one trailing newline of the source is
// dropped), newlines normalized to "\n", `{% raw %}` and comments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"

namespace keel::jinja {

enum class TokenType {
  kData,        // literal text (value)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,        // identifier or keyword (value)
  kString,      // string literal, escapes decoded (value)
  kInteger,     // value: digits without '_'
  kFloat,       // value: the literal without '_'
  kOperator,    // value: "+", "//", "==", "(", ...
  kEof,
};

struct Token {
  TokenType type;
  std::string value;
  int line = 1;    // 1-based
  int column = 1;  // 1-based, in bytes
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Tokens ending with kEof, or InvalidArgument "line L, column C: ...".
Result<std::vector<Token>> lex(std::string_view source, const LexOptions& options = {});

}  // namespace keel::jinja
