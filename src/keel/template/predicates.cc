// Jinja2's builtin tests (jinja2/tests.py): `x is defined`, `n is even`, ...
#include <cmath>

#include "keel/template/error.h"
#include "keel/template/interp.h"
#include "keel/template/ops.h"
#include "keel/template/pyformat.h"
#include "keel/template/pystr.h"

namespace keel::jinja {
namespace {

const Value& need_arg(const CallArgs& args, const std::string& test) {
  if (!args.positional.empty()) return args.positional[0];
  if (!args.keyword.empty()) return args.keyword[0].second;
  fail(fmt::format("test '{}' requires an argument", test));
}

bool is_known_filter(const std::string& name) {
  static const char* kFilters[] = {
      "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
      "first", "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length",
      "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe",
      "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper",
      "wordcount"};
  for (const char* f : kFilters) {
    if (name == f) return true;
  }
  return false;
}

}  // namespace

bool apply_test(Interp& in, const std::string& name, const Value& v, CallArgs& args) {
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "odd" || name == "even") {
    if (v.is_float()) {
      double m = std::fmod(v.as_double(), 2.0);
      return name == "odd" ? (m == 1.0 || m == -1.0) : m == 0.0;
    }
    int64_t n = to_int(v, "odd/even test value");
    return name == "odd" ? (n % 2 != 0) : (n % 2 == 0);
  }
  if (name == "divisibleby") {
    const Value& d = need_arg(args, name);
    Value m = binary_op(in, "%", v, d);
    return m.as_double() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return v == need_arg(args, name);
  if (name == "ne" || name == "!=") return !(v == need_arg(args, name));
  if (name == "lt" || name == "lessthan" || name == "<") return py_less(v, need_arg(args, name));
  if (name == "gt" || name == "greaterthan" || name == ">") return py_less(need_arg(args, name), v);
  if (name == "le" || name == "<=") return compare_op("<=", v, need_arg(args, name));
  if (name == "ge" || name == ">=") return compare_op(">=", v, need_arg(args, name));
  if (name == "in") return contains(need_arg(args, name), v);
  if (name == "sameas") {
    const Value& o = need_arg(args, name);
    if (v.is_none() || v.is_bool() || v.is_undefined()) return v.kind() == o.kind() && v == o;
    return false;
  }
  if (name == "lower" || name == "upper") {
    std::string s = to_str(v);
    CallArgs none;
    Value m = bound_method(Value::string(s), name == "lower" ? "islower" : "isupper");
    return in.call(m, none).truthy();
  }
  if (name == "filter") return is_known_filter(to_str(v));
  if (name == "test") {
    static const char* kTests[] = {"defined", "undefined", "none", "boolean", "false", "true", "integer",
                                   "float", "number", "string", "mapping", "iterable", "sequence",
                                   "callable", "odd", "even", "divisibleby", "eq", "equalto", "ne", "lt",
                                   "gt", "le", "ge", "in", "sameas", "lower", "upper", "filter", "test",
                                   "escaped", "lessthan", "greaterthan"};
    std::string t = to_str(v);
    for (const char* k : kTests) {
      if (t == k) return true;
    }
    return false;
  }
  fail(fmt::format("No test named '{}'.", name));
}

}  // namespace keel::jinja
