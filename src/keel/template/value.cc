#include "keel/template/value.h"

#include <cmath>

#include "keel/template/error.h"

namespace keel::jinja {

Value Value::undefined(std::string message) {
  Value v;
  v.str_ = std::make_shared<const std::string>(std::move(message));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.int_ = b ? 1 : 0;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.int_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.float_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.str_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<const ListData>(ListData{std::move(items), is_tuple});
  return v;
}

Value Value::dict(DictData d) {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<const DictData>(std::move(d));
  return v;
}

Value Value::make_namespace(DictData attrs) {
  Value v;
  v.kind_ = Kind::kNamespace;
  v.ns_ = std::make_shared<DictData>(std::move(attrs));
  return v;
}

Value Value::callable(std::string name, NativeFn fn, bool is_macro) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.fn_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn), is_macro});
  return v;
}

const std::string& Value::undefined_message() const {
  static const std::string kEmpty = "value is undefined";
  return str_ ? *str_ : kEmpty;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool:
    case Kind::kInt: return int_ != 0;
    case Kind::kFloat: return float_ != 0.0;
    case Kind::kString: return !str_->empty();
    case Kind::kList: return !list_->items.empty();
    case Kind::kDict: return !dict_->items.empty();
    case Kind::kNamespace:
    case Kind::kCallable: return true;
  }
  return false;
}

bool operator==(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.kind_ == K::kFloat || b.kind_ == K::kFloat) return a.as_double() == b.as_double();
    return a.int_ == b.int_;
  }
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case K::kUndefined:
    case K::kNone: return true;
    case K::kString: return *a.str_ == *b.str_;
    case K::kList:
      return a.list_->is_tuple == b.list_->is_tuple && a.list_->items == b.list_->items;
    case K::kDict: {
      if (a.dict_->items.size() != b.dict_->items.size()) return false;
      for (const auto& [k, v] : a.dict_->items) {
        const Value* other = b.dict_->find(k);
        if (other == nullptr || !(*other == v)) return false;
      }
      return true;
    }
    case K::kNamespace: return a.ns_ == b.ns_;
    case K::kCallable: return a.fn_ == b.fn_;
    default: return false;
  }
}

const Value* DictData::find(const Value& key) const {
  for (const auto& kv : items) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

Value* DictData::find(const Value& key) {
  for (auto& kv : items) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

void DictData::set(Value key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
  } else {
    items.emplace_back(std::move(key), std::move(value));
  }
}

std::string_view type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kList: return v.is_tuple() ? "tuple" : "list";
    case Value::Kind::kDict: return "dict";
    case Value::Kind::kNamespace: return "Namespace";
    case Value::Kind::kCallable: return v.as_callable().is_macro ? "Macro" : "function";
  }
  return "object";
}

}  // namespace keel::jinja
