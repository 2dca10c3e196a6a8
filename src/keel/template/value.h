// Value: the dynamic value a template computes with — Python's object model
// as far as chat templates need it (Jinja2 runs on Python objects).
//
// Kinds: undefined (Jinja2's default Undefined, carrying the message an
// error about it would give), None, bool, int (int64; overflow is an error),
// float, str (UTF-8), list / tuple, dict (insertion-ordered, as Python's),
// namespace (the one mutable kind: `{% set ns.x = ... %}`) and callable
// (macros, bound methods, globals such as range()).
//
// Values are immutable except a namespace's attributes, so copies share
// their payload by shared_ptr. Thread-safety: a Value is safe to read from
// many threads; a namespace is created and mutated by one render only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::jinja {

class Value;
class Interp;

struct ListData {
  std::vector<Value> items;
  bool is_tuple = false;
};

struct DictData {
  std::vector<std::pair<Value, Value>> items;
  // The value for `key` (Python equality, 1 == 1.0 == True), or nullptr.
  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  // Inserts or overwrites, keeping first-insertion order.
  void set(Value key, Value value);
};

// Arguments of a call: f(a, b, k=v).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

using NativeFn = std::function<Value(Interp&, CallArgs&)>;

struct Callable {
  std::string name;
  NativeFn fn;
  bool is_macro = false;
};

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable,
  };

  Value() = default;  // undefined
  static Value undefined(std::string message);
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value dict(DictData d);
  static Value make_namespace(DictData attrs);
  static Value callable(std::string name, NativeFn fn, bool is_macro = false);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  // bool, int or float (Python's numbers.Number).
  bool is_number() const { return kind_ == Kind::kBool || kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kList && list_->is_tuple; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return int_ != 0; }
  // bool and int as int64.
  int64_t as_int() const { return int_; }
  // Any number as double.
  double as_double() const { return kind_ == Kind::kFloat ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return *str_; }
  const std::vector<Value>& items() const { return list_->items; }
  const DictData& as_dict() const { return *dict_; }
  DictData& namespace_attrs() const { return *ns_; }
  const Callable& as_callable() const { return *fn_; }
  // The message "'x' is undefined" an undefined value carries.
  const std::string& undefined_message() const;

  // Python truthiness.
  bool truthy() const;
  // Python ==, with 1 == 1.0 == True.
  friend bool operator==(const Value& a, const Value& b);

 private:
  Kind kind_ = Kind::kUndefined;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> str_;  // string, or an undefined's message
  std::shared_ptr<const ListData> list_;
  std::shared_ptr<const DictData> dict_;
  std::shared_ptr<DictData> ns_;
  std::shared_ptr<const Callable> fn_;
};

// Python's type name: "str", "int", "list", "dict", "NoneType", ...
std::string_view type_name(const Value& v);

}  // namespace keel::jinja
