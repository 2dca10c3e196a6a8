// The syntax tree the parser builds and the evaluator walks. Nodes are
// immutable after parsing; a compiled Template shares them across renders.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "keel/template/value.h"

namespace keel::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtList = std::vector<std::unique_ptr<Stmt>>;

struct Expr {
  enum class Kind {
    kConst,     // value
    kName,      // name
    kGetAttr,   // args[0].name
    kGetItem,   // args[0][args[1]]
    kSlice,     // args: start, stop, step (null when omitted)
    kCall,      // args[0](args[1..], kwargs)
    kFilter,    // args[0] | name(args[1..], kwargs); args[0] null in a filter block
    kTest,      // args[0] is name(args[1..], kwargs)
    kNeg,       // -args[0]
    kPos,       // +args[0]
    kNot,       // not args[0]
    kBinary,    // args[0] name args[1]: + - * / // % ** ~
    kAnd,       // args[0] and args[1]
    kOr,        // args[0] or args[1]
    kCompare,   // args[0] ops[0] args[1] ops[1] args[2] ... (==, !=, <, <=, >, >=, in, notin)
    kCondExpr,  // args[1] if args[0] else args[2] (args[2] may be null)
    kList,      // [args...]
    kTuple,     // (args...)
    kDict,      // {args[0]: args[1], ...}
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  // Call / filter / test keyword arguments: the last kwarg_names.size() args.
  std::vector<std::string> kwarg_names;
  std::vector<std::string> ops;  // kCompare

  size_t num_positional() const { return args.size() - kwarg_names.size(); }
};

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned to the last defaults.size() params
  StmtList body;
};

struct Stmt {
  enum class Kind {
    kText,      // text
    kPrint,     // {{ expr }}
    kIf,        // conds[i] -> bodies[i]; else_body
    kFor,       // for target in expr [if cond] body else_body
    kSet,       // set target = expr
    kSetBlock,  // set target %} body {% endset (expr: optional filter chain)
    kMacro,     // macro
    kCallBlock, // call(macro.params) expr %} macro.body
    kFilterBlock,  // filter expr %} body
    kBreak,
    kContinue,
    kBody,      // just body (e.g. {% generation %})
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr target;  // kName, kTuple of kName, or kGetAttr (namespace attribute)
  ExprPtr cond;
  std::vector<ExprPtr> conds;
  std::vector<StmtList> bodies;
  StmtList body;
  StmtList else_body;
  std::shared_ptr<MacroDef> macro;  // kMacro, kCallBlock (caller's params and body)
};

}  // namespace keel::jinja
