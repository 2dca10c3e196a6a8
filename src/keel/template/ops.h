// Python semantics of operators, attribute and item lookup, iteration and
// ordering on Values — shared by the evaluator, filters, tests and methods.
// Errors are TemplateError (see error.h).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "keel/template/value.h"

namespace keel::jinja {

class Interp;

// Binary operators: + - * / // % ** ~ (string concatenation).
Value binary_op(Interp& in, std::string_view op, const Value& a, const Value& b);
// Comparisons ==, !=, <, <=, >, >=, in, notin.
bool compare_op(std::string_view op, const Value& a, const Value& b);
// Python a < b (TypeError for unorderable types).
bool py_less(const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);

// Jinja2's getattr(obj, name): attribute (a bound method of str/list/dict),
// else item obj[name]; a miss is an undefined value saying what was missing.
// Fails if obj is undefined, or the attribute is one the immutable sandbox
// forbids (list.append, dict.update, ...).
Value get_attr(const Value& obj, const std::string& name);
// Jinja2's getitem(obj, key): item, else attribute for a string key.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] on lists, tuples and strings (null Values when omitted).
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// The items `for` visits: list items, dict keys, string characters;
// undefined is empty. Fails for values that are not iterable.
std::vector<Value> iterate(const Value& v);
// len(v) (undefined is 0).
int64_t length(const Value& v);

// Bound method `name` of a str, list or dict, or an undefined Value.
Value bound_method(const Value& obj, const std::string& name);

// Reads the arguments of a builtin: parameter names in order, each matched
// by position or by keyword; unknown keywords and extra positionals fail.
class Args {
 public:
  Args(CallArgs& args, std::string_view function, std::initializer_list<std::string_view> names);
  // Argument i (by position or keyword), or nullptr.
  const Value* get(size_t i) const { return i < values_.size() && values_[i].set ? &values_[i].value : nullptr; }
  Value get_or(size_t i, Value fallback) const;
  int64_t get_int(size_t i, int64_t fallback) const;
  bool get_bool(size_t i, bool fallback) const;
  // Positional arguments beyond the named ones (for *args functions).
  std::vector<Value> rest;

 private:
  struct Slot {
    Value value;
    bool set = false;
  };
  std::vector<Slot> values_;
  std::string function_;
};

// Python's int(x) / float(x) of a number (fails on other kinds).
int64_t to_int(const Value& v, std::string_view what);
std::string describe_type_for_attr(const Value& v);

}  // namespace keel::jinja
