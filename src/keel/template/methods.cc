// Bound methods of str, list and dict that templates call
// (`message.content.startswith('x')`, `d.items()`), and the mutating ones
// the immutable sandbox refuses.
#include <algorithm>

#include "keel/template/error.h"
#include "keel/template/ops.h"
#include "keel/template/pyformat.h"
#include "keel/template/pystr.h"

namespace keel::jinja {
namespace {

const std::string* opt_string(const Args& a, size_t i, std::string_view what) {
  const Value* v = a.get(i);
  if (v == nullptr || v->is_none()) return nullptr;
  if (!v->is_string()) fail(fmt::format("{} must be str or None, not {}", what, type_name(*v)));
  return &v->as_string();
}

std::string need_string(const Value* v, std::string_view what) {
  if (v == nullptr) fail(fmt::format("{}() takes at least 1 argument (0 given)", what));
  if (!v->is_string()) fail(fmt::format("{}() argument must be str, not {}", what, type_name(*v)));
  return v->as_string();
}

Value string_list(std::vector<std::string> parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return Value::list(std::move(out));
}

bool affix_match(const std::string& s, const Value& affix, bool prefix, std::string_view what) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) fail(fmt::format("{} first arg must be str or a tuple of str, not {}", what, type_name(a)));
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_tuple()) {
    return std::any_of(affix.items().begin(), affix.items().end(), one);
  }
  return one(affix);
}

// str.format with {} / {0} / {name} fields (no format specs or conversions).
std::string str_format(const std::string& f, const Args& a, const CallArgs& raw) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}' ) {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = f.find('}', i);
    if (close == std::string::npos) fail("Single '{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    if (field.find_first_of(":!") != std::string::npos)
      fail("str.format: format specs and conversions are not supported");
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
      size_t idx = field.empty() ? auto_index++ : std::stoul(field);
      if (idx >= a.rest.size()) fail(fmt::format("Replacement index {} out of range for positional args tuple", idx));
      v = &a.rest[idx];
    } else {
      for (const auto& [k, val] : raw.keyword) {
        if (k == field) v = &val;
      }
      if (v == nullptr) fail(fmt::format("'{}'", field));
    }
    out += to_str(*v);
  }
  return out;
}

Value str_method(const Value& self, const std::string& name) {
  static const char* kNames[] = {"startswith", "endswith", "split", "rsplit", "strip", "lstrip", "rstrip",
                                 "replace", "upper", "lower", "title", "capitalize", "format", "find",
                                 "rfind", "index", "count", "join", "isdigit", "isalpha", "isalnum",
                                 "isspace", "islower", "isupper", "splitlines", "center", "zfill"};
  if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames)) return Value();
  return Value::callable(name, [self, name](Interp&, CallArgs& args) -> Value {
    const std::string& s = self.as_string();
    if (name == "startswith" || name == "endswith") {
      Args a(args, name, {"prefix"});
      if (!a.get(0)) fail(fmt::format("{}() takes at least 1 argument (0 given)", name));
      return Value::boolean(affix_match(s, *a.get(0), name == "startswith", name));
    }
    if (name == "split" || name == "rsplit") {
      Args a(args, name, {"sep", "maxsplit"});
      const std::string* sep = opt_string(a, 0, "sep");
      if (sep && sep->empty()) fail("empty separator");
      int64_t maxsplit = a.get_int(1, -1);
      return string_list(name == "split" ? pystr::split(s, sep, maxsplit) : pystr::rsplit(s, sep, maxsplit));
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      Args a(args, name, {"chars"});
      return Value::string(pystr::strip(s, opt_string(a, 0, "chars"), name != "rstrip", name != "lstrip"));
    }
    if (name == "replace") {
      Args a(args, name, {"old", "new", "count"});
      return Value::string(pystr::replace(s, need_string(a.get(0), name), need_string(a.get(1), name),
                                          a.get_int(2, -1)));
    }
    if (name == "upper") return Value::string(pystr::upper(s));
    if (name == "lower") return Value::string(pystr::lower(s));
    if (name == "title") return Value::string(pystr::title(s));
    if (name == "capitalize") return Value::string(pystr::capitalize(s));
    if (name == "format") {
      CallArgs positional_only{args.positional, {}};
      Args a(positional_only, name, {});
      return Value::string(str_format(s, a, args));
    }
    if (name == "find" || name == "rfind" || name == "index" || name == "count") {
      Args a(args, name, {"sub"});
      std::string sub = need_string(a.get(0), name);
      if (name == "count") return Value::integer(pystr::count(s, sub));
      int64_t r = name == "rfind" ? pystr::rfind(s, sub) : pystr::find(s, sub);
      if (name == "index" && r < 0) fail("substring not found");
      return Value::integer(r);
    }
    if (name == "join") {
      Args a(args, name, {"iterable"});
      if (!a.get(0)) fail("join() takes exactly one argument (0 given)");
      std::string out;
      bool first = true;
      for (const Value& v : iterate(*a.get(0))) {
        if (!v.is_string()) fail(fmt::format("sequence item: expected str instance, {} found", type_name(v)));
        if (!first) out += s;
        first = false;
        out += v.as_string();
      }
      return Value::string(std::move(out));
    }
    if (name == "splitlines") return string_list(pystr::splitlines(s));
    if (name == "center") {
      Args a(args, name, {"width", "fillchar"});
      return Value::string(pystr::center(s, a.get_int(0, 0), a.get(1) ? need_string(a.get(1), name) : " "));
    }
    if (name == "zfill") {
      Args a(args, name, {"width"});
      int64_t w = a.get_int(0, 0), len = static_cast<int64_t>(pystr::length(s));
      if (w <= len) return self;
      size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
      return Value::string(s.substr(0, sign) + std::string(static_cast<size_t>(w - len), '0') + s.substr(sign));
    }
    std::u32string u = pystr::decode(s);
    if (u.empty()) return Value::boolean(false);
    auto all = [&](auto pred) { return Value::boolean(std::all_of(u.begin(), u.end(), pred)); };
    if (name == "isdigit") return all(pystr::is_digit);
    if (name == "isalpha") return all(pystr::is_alpha);
    if (name == "isalnum") return all([](char32_t c) { return pystr::is_alpha(c) || pystr::is_digit(c); });
    if (name == "isspace") return all(pystr::is_space);
    bool has_cased = false, lower = true, upper = true;
    for (char32_t c : u) {
      if (pystr::to_upper(c) != c) {
        has_cased = true;
        upper = false;
      } else if (pystr::to_lower(c) != c) {
        has_cased = true;
        lower = false;
      }
    }
    return Value::boolean(has_cased && (name == "islower" ? lower : upper));
  });
}

Value unsafe(const Value& self, const std::string& name) {
  std::string type(type_name(self));
  return Value::callable(name, [type, name](Interp&, CallArgs&) -> Value {
    fail(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type));
  });
}

Value list_method(const Value& self, const std::string& name) {
  if (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" ||
      name == "reverse" || name == "sort" || name == "clear") {
    if (self.is_tuple()) return Value();
    return unsafe(self, name);
  }
  if (name != "index" && name != "count" && name != "copy") return Value();
  return Value::callable(name, [self, name](Interp&, CallArgs& args) -> Value {
    if (name == "copy") return Value::list(self.items());
    Args a(args, name, {"value"});
    if (!a.get(0)) fail(fmt::format("{}() takes exactly one argument (0 given)", name));
    int64_t n = 0, first = -1;
    for (size_t i = 0; i < self.items().size(); ++i) {
      if (self.items()[i] == *a.get(0)) {
        if (first < 0) first = static_cast<int64_t>(i);
        ++n;
      }
    }
    if (name == "count") return Value::integer(n);
    if (first < 0) fail(fmt::format("{} is not in list", to_repr(*a.get(0))));
    return Value::integer(first);
  });
}

Value dict_method(const Value& self, const std::string& name) {
  if (name == "pop" || name == "popitem" || name == "setdefault" || name == "update" || name == "clear") {
    return unsafe(self, name);
  }
  if (name != "items" && name != "keys" && name != "values" && name != "get" && name != "copy") return Value();
  return Value::callable(name, [self, name](Interp&, CallArgs& args) -> Value {
    if (name == "get") {
      Args a(args, name, {"key", "default"});
      if (!a.get(0)) fail("get expected at least 1 argument, got 0");
      const Value* v = self.as_dict().find(*a.get(0));
      return v ? *v : a.get_or(1, Value::none());
    }
    Args a(args, name, {});
    if (!a.rest.empty()) fail(fmt::format("dict.{}() takes no arguments", name));
    if (name == "copy") return self;
    std::vector<Value> out;
    for (const auto& [k, v] : self.as_dict().items) {
      if (name == "items") {
        out.push_back(Value::list({k, v}, true));
      } else {
        out.push_back(name == "keys" ? k : v);
      }
    }
    return Value::list(std::move(out));
  });
}

}  // namespace

Value bound_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) return str_method(obj, name);
  if (obj.is_list()) return list_method(obj, name);
  if (obj.is_dict()) return dict_method(obj, name);
  return Value();
}

}  // namespace keel::jinja
