// Statement parsing: {% if %}, {% for %}, {% set %}, {% macro %}, ...
#include "keel/template/parser_impl.h"

namespace keel::jinja::internal {

StmtList Parser::subparse(std::initializer_list<std::string_view> ends, std::string* which) {
  Depth depth(*this);
  StmtList body;
  while (true) {
    const Token& t = cur();
    if (t.type == TokenType::kEof) {
      if (ends.size() != 0) {
        std::string list;
        for (auto e : ends) list += (list.empty() ? "'" : " or '") + std::string(e) + "'";
        fail_here("unexpected end of template; expected " + list);
      }
      return body;
    }
    if (t.type == TokenType::kData) {
      auto s = std::make_unique<Stmt>();
      s->kind = Stmt::Kind::kText;
      s->line = t.line;
      s->text = t.value;
      body.push_back(std::move(s));
      advance();
      continue;
    }
    if (t.type == TokenType::kVarBegin) {
      advance();
      auto s = std::make_unique<Stmt>();
      s->kind = Stmt::Kind::kPrint;
      s->line = t.line;
      s->expr = parse_tuple(false, true, {});
      if (cur().type != TokenType::kVarEnd)
        fail_here("expected 'end of print statement', got " + describe(cur()));
      advance();
      body.push_back(std::move(s));
      continue;
    }
    if (t.type != TokenType::kBlockBegin) fail_here("unexpected " + describe(t));
    advance();
    if (cur().type != TokenType::kName) fail_here("tag name expected");
    for (auto e : ends) {
      if (cur().value == e) {
        *which = cur().value;
        advance();
        return body;
      }
    }
    body.push_back(parse_statement());
  }
}

std::unique_ptr<Stmt> Parser::parse_statement() {
  auto s = std::make_unique<Stmt>();
  s->line = cur().line;
  std::string tag = cur().value;
  advance();
  std::string which;
  if (tag == "if") {
    s->kind = Stmt::Kind::kIf;
    s->conds.push_back(parse_tuple(false, false, {}));
    expect_block_end();
    while (true) {
      s->bodies.push_back(subparse({"elif", "else", "endif"}, &which));
      if (which == "elif") {
        s->conds.push_back(parse_tuple(false, false, {}));
        expect_block_end();
        continue;
      }
      if (which == "else") {
        expect_block_end();
        s->else_body = subparse({"endif"}, &which);
      }
      break;
    }
    expect_block_end();
  } else if (tag == "for") {
    s->kind = Stmt::Kind::kFor;
    s->target = parse_tuple(true, false, {"in"});
    check_target(*s->target, false);
    if (!skip_name("in")) fail_here("expected 'in', got " + describe(cur()));
    s->expr = parse_tuple(false, false, {"recursive"});
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive")) fail_here("recursive for loops are not supported");
    expect_block_end();
    s->body = subparse({"endfor", "else"}, &which);
    if (which == "else") {
      expect_block_end();
      s->else_body = subparse({"endfor"}, &which);
    }
    expect_block_end();
  } else if (tag == "set") {
    if (cur().type == TokenType::kName && peek().type == TokenType::kOperator && peek().value == ".") {
      auto t = std::make_unique<Expr>();
      t->kind = Expr::Kind::kGetAttr;
      t->line = cur().line;
      t->args.push_back(make_name(expect_name()));
      advance();
      t->name = expect_name();
      s->target = std::move(t);
    } else {
      s->target = parse_tuple(true, false, {});
      check_target(*s->target, false);
    }
    if (skip_op("=")) {
      s->kind = Stmt::Kind::kSet;
      s->expr = parse_tuple(false, true, {});
      expect_block_end();
    } else {
      s->kind = Stmt::Kind::kSetBlock;
      if (is_op("|")) s->expr = parse_filter_chain(nullptr);
      expect_block_end();
      s->body = subparse({"endset"}, &which);
      expect_block_end();
    }
  } else if (tag == "macro") {
    s->kind = Stmt::Kind::kMacro;
    s->macro = std::make_shared<MacroDef>();
    s->macro->name = expect_name();
    parse_signature(*s->macro);
    expect_block_end();
    s->macro->body = subparse({"endmacro"}, &which);
    expect_block_end();
  } else if (tag == "call") {
    s->kind = Stmt::Kind::kCallBlock;
    s->macro = std::make_shared<MacroDef>();
    s->macro->name = "caller";
    if (is_op("(")) parse_signature(*s->macro);
    s->expr = parse_expression(true);
    if (s->expr->kind != Expr::Kind::kCall) fail_here("expected call");
    expect_block_end();
    s->macro->body = subparse({"endcall"}, &which);
    expect_block_end();
  } else if (tag == "filter") {
    s->kind = Stmt::Kind::kFilterBlock;
    s->expr = parse_filter_chain(nullptr, true);
    expect_block_end();
    s->body = subparse({"endfilter"}, &which);
    expect_block_end();
  } else if (tag == "break" || tag == "continue") {
    s->kind = tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
    expect_block_end();
  } else if (tag == "generation") {
    s->kind = Stmt::Kind::kBody;
    expect_block_end();
    s->body = subparse({"endgeneration"}, &which);
    expect_block_end();
  } else if (tag == "with") {
    // {% with a = 1, b = 2 %}: a scope; modelled as a one-iteration body.
    s->kind = Stmt::Kind::kBody;
    while (cur().type != TokenType::kBlockEnd) {
      auto set = std::make_unique<Stmt>();
      set->kind = Stmt::Kind::kSet;
      set->line = cur().line;
      set->target = make_name(expect_name());
      expect_op("=");
      set->expr = parse_expression(true);
      s->body.push_back(std::move(set));
      if (!skip_op(",")) break;
    }
    s->text = "with";
    expect_block_end();
    StmtList inner = subparse({"endwith"}, &which);
    for (auto& st : inner) s->body.push_back(std::move(st));
    expect_block_end();
  } else {
    pos_ -= 1;
    fail_here(fmt::format("Encountered unknown tag '{}'", tag));
  }
  return s;
}

void Parser::check_target(const Expr& t, bool nested) {
  if (t.kind == Expr::Kind::kName) return;
  if (t.kind == Expr::Kind::kTuple && !nested) {
    for (const auto& a : t.args) check_target(*a, true);
    return;
  }
  fail_here("can't assign to this expression");
}

void Parser::parse_signature(MacroDef& m) {
  expect_op("(");
  while (!is_op(")")) {
    if (!m.params.empty()) expect_op(",");
    if (is_op(")")) break;
    m.params.push_back(expect_name());
    if (skip_op("=")) {
      m.defaults.push_back(parse_expression(true));
    } else if (!m.defaults.empty()) {
      fail_here("non-default argument follows default argument");
    }
  }
  expect_op(")");
}

}  // namespace keel::jinja::internal
