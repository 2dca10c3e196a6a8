// Parser: tokens to a syntax tree, following Jinja2's grammar and operator
// precedence (jinja2/parser.py): condexpr < or < and < not < comparisons
// (chained, `in`, `not in`) < + - < ~ < * / // % < ** < unary - + <
// postfix (. [] ()) < filters and tests.
#pragma once

#include <vector>

#include "keel/core/result.h"
#include "keel/template/ast.h"
#include "keel/template/lexer.h"

namespace keel::jinja {

struct ParseOptions {
  // Deepest nesting of expressions and blocks; deeper is ResourceExhausted
  // (keeps the recursive parser and evaluator within the stack).
  int max_nesting_depth = 200;
};

// The template's statements, or InvalidArgument "line L, column C: ...".
Result<StmtList> parse(const std::vector<Token>& tokens, const ParseOptions& options = {});

}  // namespace keel::jinja
