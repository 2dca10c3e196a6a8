// Expression parsing lives in parser_impl.h (the Parser class); statements
// in parser_statements.cc.
#include "keel/template/parser.h"

#include "keel/template/parser_impl.h"

namespace keel::jinja {

Result<StmtList> parse(const std::vector<Token>& tokens, const ParseOptions& options) {
  try {
    internal::Parser p(tokens, options);
    return p.parse_all();
  } catch (const TemplateError& e) {
    return e.status();
  }
}

}  // namespace keel::jinja
