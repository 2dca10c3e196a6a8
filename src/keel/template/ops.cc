#include "keel/template/ops.h"

#include <cmath>

#include "keel/template/error.h"
#include "keel/template/interp.h"
#include "keel/template/pyformat.h"
#include "keel/template/pystr.h"

namespace keel::jinja {
namespace {

[[noreturn]] void fail_undefined(const Value& v) { fail(v.undefined_message()); }

[[noreturn]] void fail_operands(std::string_view op, const Value& a, const Value& b) {
  fail(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b)));
}

template <typename Op>
Value checked(Op op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (op(a, b, &r)) fail("integer overflow (keel's ints are 64-bit)");
  return Value::integer(r);
}
bool add(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
bool sub(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
bool mul(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

double py_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

Value repeat(Interp& in, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    if (static_cast<double>(seq.as_string().size()) * static_cast<double>(n) >
        static_cast<double>(in.limits().max_output_bytes))
      fail_limit(fmt::format("string repetition exceeds max_output_bytes ({})", in.limits().max_output_bytes));
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value::string(std::move(out));
  }
  if (static_cast<double>(seq.items().size()) * static_cast<double>(n) >
      static_cast<double>(in.limits().max_loop_iterations))
    fail_limit(fmt::format("list repetition exceeds max_loop_iterations ({})", in.limits().max_loop_iterations));
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return Value::list(std::move(out), seq.is_tuple());
}

int64_t normalize_index(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

}  // namespace

int64_t to_int(const Value& v, std::string_view what) {
  if (v.is_bool() || v.is_int()) return v.as_int();
  if (v.is_float()) return static_cast<int64_t>(v.as_double());
  if (v.is_undefined()) fail_undefined(v);
  fail(fmt::format("{} must be an integer, not {}", what, type_name(v)));
}

Value binary_op(Interp& in, std::string_view op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = to_str(a) + to_str(b);
    in.check_string_size(s.size());
    return Value::string(std::move(s));
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  bool nums = a.is_number() && b.is_number();
  if (op == "+") {
    if (ints) return checked(add, a.as_int(), b.as_int());
    if (nums) return Value::number(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      in.check_string_size(a.as_string().size() + b.as_string().size());
      return Value::string(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      std::vector<Value> items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(items), a.is_tuple());
    }
    if (a.is_string()) fail(fmt::format("can only concatenate str (not \"{}\") to str", type_name(b)));
    if (a.is_list() && !a.is_tuple())
      fail(fmt::format("can only concatenate list (not \"{}\") to list", type_name(b)));
    fail_operands("+", a, b);
  }
  if (op == "-") {
    if (ints) return checked(sub, a.as_int(), b.as_int());
    if (nums) return Value::number(a.as_double() - b.as_double());
    fail_operands("-", a, b);
  }
  if (op == "*") {
    if (ints) return checked(mul, a.as_int(), b.as_int());
    if (nums) return Value::number(a.as_double() * b.as_double());
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(in, a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(in, b, a.as_int());
    fail_operands("*", a, b);
  }
  if (op == "/") {
    if (!nums) fail_operands("/", a, b);
    if (b.as_double() == 0) fail(ints ? "division by zero" : "float division by zero");
    return Value::number(a.as_double() / b.as_double());
  }
  if (op == "//") {
    if (!nums) fail_operands("//", a, b);
    if (b.as_double() == 0) fail(ints ? "integer division or modulo by zero" : "float floor division by zero");
    if (ints) {
      int64_t q = a.as_int() / b.as_int();
      if ((a.as_int() % b.as_int() != 0) && ((a.as_int() < 0) != (b.as_int() < 0))) --q;
      return Value::integer(q);
    }
    return Value::number(std::floor(a.as_double() / b.as_double()));
  }
  if (op == "%") {
    if (a.is_string()) {
      // printf-style formatting: %s %d %r %% only.
      std::vector<Value> args = b.is_tuple() ? b.items() : std::vector<Value>{b};
      std::string out;
      size_t next = 0;
      const std::string& f = a.as_string();
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '%') {
          out += f[i];
          continue;
        }
        if (i + 1 >= f.size()) fail("incomplete format");
        char c = f[++i];
        if (c == '%') {
          out += '%';
          continue;
        }
        if (next >= args.size()) fail("not enough arguments for format string");
        const Value& arg = args[next++];
        if (c == 's') {
          out += to_str(arg);
        } else if (c == 'r') {
          out += to_repr(arg);
        } else if (c == 'd' || c == 'i') {
          out += std::to_string(to_int(arg, "%d format"));
        } else {
          fail(fmt::format("unsupported format character '{}'", c));
        }
      }
      if (next < args.size()) fail("not all arguments converted during string formatting");
      return Value::string(std::move(out));
    }
    if (!nums) fail_operands("%", a, b);
    if (b.as_double() == 0) fail(ints ? "integer division or modulo by zero" : "float modulo");
    if (ints) {
      int64_t m = a.as_int() % b.as_int();
      if (m != 0 && ((m < 0) != (b.as_int() < 0))) m += b.as_int();
      return Value::integer(m);
    }
    return Value::number(py_fmod(a.as_double(), b.as_double()));
  }
  if (op == "**") {
    if (!nums) fail_operands("** or pow()", a, b);
    if (ints && b.as_int() >= 0) {
      int64_t result = 1, base = a.as_int();
      for (int64_t e = b.as_int(); e > 0; --e) {
        if (__builtin_mul_overflow(result, base, &result)) fail("integer overflow (keel's ints are 64-bit)");
        if (result == 0 || result == 1) break;
      }
      return Value::integer(result);
    }
    return Value::number(std::pow(a.as_double(), b.as_double()));
  }
  fail(fmt::format("unknown operator '{}'", op));
}

bool py_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (x[i] == y[i]) continue;
      return py_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  fail(fmt::format("'<' not supported between instances of '{}' and '{}'", type_name(a), type_name(b)));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string()) {
        if (item.is_undefined()) fail_undefined(item);
        fail(fmt::format("'in <string>' requires string as left operand, not {}", type_name(item)));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
      for (const Value& v : container.items()) {
        if (v == item) return true;
      }
      return false;
    case Value::Kind::kDict: return container.as_dict().find(item) != nullptr;
    case Value::Kind::kUndefined: return false;
    default:
      fail(fmt::format("argument of type '{}' is not iterable", type_name(container)));
  }
}

bool compare_op(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return a == b;
  if (op == "!=") return !(a == b);
  if (op == "<") return py_less(a, b);
  if (op == ">") return py_less(b, a);
  if (op == "<=") return a == b ? (py_less(a, b), true) : py_less(a, b);
  if (op == ">=") return a == b ? (py_less(b, a), true) : py_less(b, a);
  if (op == "in") return contains(b, a);
  if (op == "notin") return !contains(b, a);
  fail(fmt::format("unknown comparison '{}'", op));
}

std::string describe_type_for_attr(const Value& v) {
  if (v.is_none()) return "'None'";
  if (v.is_namespace()) return "'jinja2.utils.Namespace object'";
  return fmt::format("'{} object'", type_name(v));
}

static Value missing(const Value& obj, const Value& key) {
  if (key.is_string()) {
    return Value::undefined(fmt::format("{} has no attribute {}", describe_type_for_attr(obj),
                                        string_repr(key.as_string())));
  }
  return Value::undefined(fmt::format("{} has no element {}", describe_type_for_attr(obj), to_repr(key)));
}

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (!name.empty() && name[0] == '_') {
    fail(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type_name(obj)));
  }
  if (obj.is_namespace()) {
    if (const Value* v = obj.namespace_attrs().find(Value::string(name))) return *v;
    return missing(obj, Value::string(name));
  }
  Value m = bound_method(obj, name);
  if (!m.is_undefined()) return m;
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(Value::string(name))) return *v;
  }
  return missing(obj, Value::string(name));
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(key)) return *v;
  } else if (obj.is_list() && (key.is_int() || key.is_bool())) {
    int64_t n = static_cast<int64_t>(obj.items().size());
    int64_t i = normalize_index(key.as_int(), n);
    if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
  } else if (obj.is_string() && (key.is_int() || key.is_bool())) {
    std::u32string u = pystr::decode(obj.as_string());
    int64_t n = static_cast<int64_t>(u.size());
    int64_t i = normalize_index(key.as_int(), n);
    if (i >= 0 && i < n) return Value::string(pystr::encode(u.substr(static_cast<size_t>(i), 1)));
  } else if (obj.is_namespace() && key.is_string()) {
    return get_attr(obj, key.as_string());
  }
  if (key.is_string()) {
    if (!key.as_string().empty() && key.as_string()[0] == '_') return missing(obj, key);
    Value m = bound_method(obj, key.as_string());
    if (!m.is_undefined()) return m;
  }
  return missing(obj, key);
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) fail_undefined(obj);
  auto opt = [](const Value& v, std::string_view what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (v.is_int() || v.is_bool()) return v.as_int();
    fail(fmt::format("slice {} must be an integer or None", what));
  };
  int64_t st = opt(step, "step").value_or(1);
  if (st == 0) fail("slice step cannot be zero");
  std::u32string chars;
  int64_t n;
  if (obj.is_string()) {
    chars = pystr::decode(obj.as_string());
    n = static_cast<int64_t>(chars.size());
  } else if (obj.is_list()) {
    n = static_cast<int64_t>(obj.items().size());
  } else {
    fail(fmt::format("'{}' object is not subscriptable", type_name(obj)));
  }
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t i = *v < 0 ? *v + n : *v;
    if (st > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t b = clamp(opt(start, "start"), st > 0 ? 0 : n - 1);
  int64_t e = clamp(opt(stop, "stop"), st > 0 ? n : -1);
  std::vector<int64_t> idx;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) idx.push_back(i);
  if (obj.is_string()) {
    std::u32string out;
    for (int64_t i : idx) out.push_back(chars[static_cast<size_t>(i)]);
    return Value::string(pystr::encode(out));
  }
  std::vector<Value> out;
  for (int64_t i : idx) out.push_back(obj.items()[static_cast<size_t>(i)]);
  return Value::list(std::move(out), obj.is_tuple());
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kList: return v.items();
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& kv : v.as_dict().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> out;
      for (char32_t c : pystr::decode(v.as_string())) out.push_back(Value::string(pystr::encode(std::u32string(1, c))));
      return out;
    }
    default: fail(fmt::format("'{}' object is not iterable", type_name(v)));
  }
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return static_cast<int64_t>(pystr::length(v.as_string()));
    case Value::Kind::kList: return static_cast<int64_t>(v.items().size());
    case Value::Kind::kDict: return static_cast<int64_t>(v.as_dict().items.size());
    default: fail(fmt::format("object of type '{}' has no len()", type_name(v)));
  }
}

Args::Args(CallArgs& args, std::string_view function, std::initializer_list<std::string_view> names)
    : values_(names.size()), function_(function) {
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < names.size()) {
      values_[i] = Slot{args.positional[i], true};
    } else {
      rest.push_back(args.positional[i]);
    }
  }
  for (auto& [k, v] : args.keyword) {
    size_t i = 0;
    for (auto n : names) {
      if (n == k) break;
      ++i;
    }
    if (i == names.size()) fail(fmt::format("{}() got an unexpected keyword argument '{}'", function_, k));
    values_[i] = Slot{v, true};
  }
}

Value Args::get_or(size_t i, Value fallback) const {
  const Value* v = get(i);
  return v ? *v : std::move(fallback);
}

int64_t Args::get_int(size_t i, int64_t fallback) const {
  const Value* v = get(i);
  return v ? to_int(*v, function_ + "() argument") : fallback;
}

bool Args::get_bool(size_t i, bool fallback) const {
  const Value* v = get(i);
  return v ? v->truthy() : fallback;
}

}  // namespace keel::jinja
