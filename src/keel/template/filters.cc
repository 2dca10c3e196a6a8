// Jinja2's builtin filters (jinja2/filters.py) with transformers' `tojson`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "keel/template/error.h"
#include "keel/template/interp.h"
#include "keel/template/ops.h"
#include "keel/template/pyformat.h"
#include "keel/template/pystr.h"

namespace keel::jinja {
namespace {

// `attribute="a.b.0"`: getitem per dotted part (integers index lists).
Value attribute_getter(const Value& item, const Value& attribute) {
  if (attribute.is_int()) return get_item(item, attribute);
  Value cur = item;
  std::string path = to_str(attribute);
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = numeric ? get_item(cur, Value::integer(std::stoll(part))) : get_item(cur, Value::string(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

// Sort key: lower-cased strings unless case-sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(pystr::lower(v.as_string()));
  return v;
}

CallArgs shift_args(CallArgs& args, size_t n) {
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + static_cast<long>(std::min(n, args.positional.size())),
                         args.positional.end());
  rest.keyword = args.keyword;
  return rest;
}

// select / reject / selectattr / rejectattr.
Value select_filter(Interp& in, const Value& input, CallArgs& args, bool by_attr, bool keep) {
  size_t consumed = by_attr ? 2 : 1;
  Value attr = by_attr && !args.positional.empty() ? args.positional[0] : Value();
  if (by_attr && args.positional.empty()) fail("Missing parameter for attribute name");
  const Value* test_name = args.positional.size() >= consumed ? &args.positional[consumed - 1] : nullptr;
  CallArgs test_args = shift_args(args, consumed);
  std::vector<Value> out;
  for (const Value& item : iterate(input)) {
    Value v = by_attr ? attribute_getter(item, attr) : item;
    bool ok;
    if (test_name == nullptr) {
      ok = v.truthy();
    } else {
      CallArgs copy = test_args;
      ok = apply_test(in, to_str(*test_name), v, copy);
    }
    if (ok == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value map_filter(Interp& in, const Value& input, CallArgs& args) {
  std::vector<Value> out;
  const Value* attribute = nullptr;
  const Value* dflt = nullptr;
  for (const auto& [k, v] : args.keyword) {
    if (k == "attribute") attribute = &v;
    if (k == "default") dflt = &v;
  }
  if (attribute != nullptr) {
    for (const Value& item : iterate(input)) {
      Value v = attribute_getter(item, *attribute);
      if (v.is_undefined() && dflt != nullptr) v = *dflt;
      out.push_back(v);
    }
    return Value::list(std::move(out));
  }
  if (args.positional.empty()) fail("map requires a filter argument");
  std::string name = to_str(args.positional[0]);
  CallArgs rest = shift_args(args, 1);
  for (const Value& item : iterate(input)) {
    CallArgs copy = rest;
    out.push_back(apply_filter(in, name, item, copy));
  }
  return Value::list(std::move(out));
}

Value round_filter(const Value& v, int64_t precision, const std::string& method) {
  if (!v.is_number()) fail(fmt::format("type {} doesn't define __round__ method", type_name(v)));
  if (method != "common" && method != "ceil" && method != "floor") {
    fail("method must be common, ceil or floor");
  }
  if (method == "common") {
    if (!v.is_float()) return Value::integer(v.as_int());
    // Correctly rounded, ties to even on the exact binary value (CPython).
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(std::clamp<int64_t>(precision, 0, 300)), v.as_double());
    double r = std::strtod(buf, nullptr);
    if (precision < 0) {
      double f = std::pow(10.0, static_cast<double>(-precision));
      r = std::nearbyint(v.as_double() / f) * f;
    }
    return Value::number(r);
  }
  double f = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * f;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / f + 0.0);
}

Value indent_filter(const Value& input, const Args& a) {
  std::string s = to_str(input);
  Value width = a.get_or(0, Value::integer(4));
  std::string indention = width.is_string() ? width.as_string()
                                            : std::string(static_cast<size_t>(std::max<int64_t>(0, to_int(width, "width"))), ' ');
  bool first = a.get_bool(1, false), blank = a.get_bool(2, false);
  s += "\n";
  std::vector<std::string> lines = pystr::splitlines(s);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : indention + lines[i]);
  }
  if (first) rv = indention + rv;
  return Value::string(std::move(rv));
}

Value int_filter(const Value& v, const Args& a) {
  Value dflt = a.get_or(0, Value::integer(0));
  int64_t base = a.get_int(1, 10);
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_double())) return dflt;
    return Value::integer(static_cast<int64_t>(v.as_double()));
  }
  if (v.is_string()) {
    std::string s = pystr::strip(v.as_string(), nullptr, true, true);
    std::string digits;
    for (char c : s) {
      if (c != '_') digits += c;
    }
    char* end = nullptr;
    errno = 0;
    long long r = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
    if (!digits.empty() && end && *end == '\0' && errno == 0) return Value::integer(r);
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0' && std::isfinite(d)) return Value::integer(static_cast<int64_t>(d));
  }
  return dflt;
}

Value float_filter(const Value& v, const Args& a) {
  Value dflt = a.get_or(0, Value::number(0.0));
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    std::string s = pystr::strip(v.as_string(), nullptr, true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value::number(d);
  }
  return dflt;
}

Value tojson_filter(const Value& v, const Args& a) {
  JsonOptions o;
  o.ensure_ascii = a.get_bool(0, false);
  if (const Value* indent = a.get(1); indent && !indent->is_none()) {
    o.indent = indent->is_string() ? indent->as_string()
                                   : std::string(static_cast<size_t>(std::max<int64_t>(0, to_int(*indent, "indent"))), ' ');
    o.item_separator = ",";
  }
  if (const Value* sep = a.get(2); sep && !sep->is_none()) {
    std::vector<Value> parts = iterate(*sep);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) fail("separators must be a pair of strings");
    o.item_separator = parts[0].as_string();
    o.key_separator = parts[1].as_string();
  }
  o.sort_keys = a.get_bool(3, false);
  return Value::string(to_json(v, o));
}

std::vector<Value> sorted(std::vector<Value> items, bool case_sensitive, const Value* attribute, bool reverse) {
  auto key = [&](const Value& v) {
    return sort_key(attribute ? attribute_getter(v, *attribute) : v, case_sensitive);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? py_less(key(y), key(x)) : py_less(key(x), key(y));
  });
  return items;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

Value apply_filter(Interp& in, const std::string& name, const Value& input, CallArgs& args) {
  const Value& v = input;
  if (name == "default" || name == "d") {
    Args a(args, name, {"default_value", "boolean"});
    if (v.is_undefined() || (a.get_bool(1, false) && !v.truthy())) return a.get_or(0, Value::string(""));
    return v;
  }
  if (name == "map") return map_filter(in, v, args);
  if (name == "select" || name == "reject") return select_filter(in, v, args, false, name == "select");
  if (name == "selectattr" || name == "rejectattr") return select_filter(in, v, args, true, name == "selectattr");
  if (name == "length" || name == "count") return Value::integer(length(v));
  if (name == "tojson") return tojson_filter(v, Args(args, name, {"ensure_ascii", "indent", "separators", "sort_keys"}));
  if (name == "safe" || name == "string") return v.is_string() ? v : Value::string(to_str(v));
  if (name == "trim") {
    Args a(args, name, {"chars"});
    const Value* chars = a.get(0);
    std::string cs = chars && !chars->is_none() ? to_str(*chars) : "";
    return Value::string(pystr::strip(to_str(v), chars && !chars->is_none() ? &cs : nullptr, true, true));
  }
  if (name == "upper") return Value::string(pystr::upper(to_str(v)));
  if (name == "lower") return Value::string(pystr::lower(to_str(v)));
  if (name == "capitalize") return Value::string(pystr::capitalize(to_str(v)));
  if (name == "title") {
    // Jinja2's own title: words begin after runs of [-\s({\[<].
    std::u32string u = pystr::decode(to_str(v));
    bool begin = true;
    for (char32_t& c : u) {
      bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || pystr::is_space(c);
      if (sep) {
        begin = true;
      } else {
        c = begin ? pystr::to_upper(c) : pystr::to_lower(c);
        begin = false;
      }
    }
    return Value::string(pystr::encode(u));
  }
  if (name == "replace") {
    Args a(args, name, {"old", "new", "count"});
    if (!a.get(0) || !a.get(1)) fail("replace() requires old and new");
    const Value* count = a.get(2);
    return Value::string(pystr::replace(to_str(v), to_str(*a.get(0)), to_str(*a.get(1)),
                                        count && !count->is_none() ? to_int(*count, "count") : -1));
  }
  if (name == "join") {
    Args a(args, name, {"d", "attribute"});
    std::string sep = to_str(a.get_or(0, Value::string("")));
    const Value* attr = a.get(1);
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += to_str(attr && !attr->is_none() ? attribute_getter(item, *attr) : item);
      in.check_string_size(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "first") {
    if (v.is_list()) return v.items().empty() ? Value::undefined("No first item, sequence was empty.") : v.items()[0];
    std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items[0];
  }
  if (name == "last") {
    std::vector<Value> items = iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  }
  if (name == "list") return Value::list(iterate(v));
  if (name == "items") {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
    std::vector<Value> out;
    for (const auto& [k, val] : v.as_dict().items) out.push_back(Value::list({k, val}, true));
    return Value::list(std::move(out));
  }
  if (name == "int") return int_filter(v, Args(args, name, {"default", "base"}));
  if (name == "float") return float_filter(v, Args(args, name, {"default"}));
  if (name == "abs") {
    if (v.is_float()) return Value::number(std::fabs(v.as_double()));
    if (v.is_int() || v.is_bool()) return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
    fail(fmt::format("bad operand type for abs(): '{}'", type_name(v)));
  }
  if (name == "round") {
    Args a(args, name, {"precision", "method"});
    return round_filter(v, a.get_int(0, 0), to_str(a.get_or(1, Value::string("common"))));
  }
  if (name == "indent") return indent_filter(v, Args(args, name, {"width", "first", "blank"}));
  if (name == "unique") {
    Args a(args, name, {"case_sensitive", "attribute"});
    const Value* attr = a.get(1);
    std::vector<Value> out, seen;
    for (const Value& item : iterate(v)) {
      Value key = sort_key(attr && !attr->is_none() ? attribute_getter(item, *attr) : item, a.get_bool(0, false));
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return Value::list(std::move(out));
  }
  if (name == "sort") {
    Args a(args, name, {"reverse", "case_sensitive", "attribute"});
    const Value* attr = a.get(2);
    return Value::list(sorted(iterate(v), a.get_bool(1, false), attr && !attr->is_none() ? attr : nullptr,
                              a.get_bool(0, false)));
  }
  if (name == "dictsort") {
    Args a(args, name, {"case_sensitive", "by", "reverse"});
    if (!v.is_dict()) fail("You can only sort by either \"key\" or \"value\"");
    std::string by = to_str(a.get_or(1, Value::string("key")));
    if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
    std::vector<Value> pairs;
    for (const auto& [k, val] : v.as_dict().items) pairs.push_back(Value::list({k, val}, true));
    Value index = Value::integer(by == "key" ? 0 : 1);
    return Value::list(sorted(pairs, a.get_bool(0, false), &index, a.get_bool(2, false)));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::u32string u = pystr::decode(v.as_string());
      std::reverse(u.begin(), u.end());
      return Value::string(pystr::encode(u));
    }
    std::vector<Value> items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "sum") {
    Args a(args, name, {"attribute", "start"});
    Value total = a.get_or(1, Value::integer(0));
    const Value* attr = a.get(0);
    for (const Value& item : iterate(v)) {
      total = binary_op(in, "+", total, attr && !attr->is_none() ? attribute_getter(item, *attr) : item);
    }
    return total;
  }
  if (name == "min" || name == "max") {
    Args a(args, name, {"case_sensitive", "attribute"});
    const Value* attr = a.get(1);
    std::vector<Value> items = iterate(v);
    if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
    const Value* best = &items[0];
    auto key = [&](const Value& x) {
      return sort_key(attr && !attr->is_none() ? attribute_getter(x, *attr) : x, a.get_bool(0, false));
    };
    for (const Value& item : items) {
      if (name == "min" ? py_less(key(item), key(*best)) : py_less(key(*best), key(item))) best = &item;
    }
    return *best;
  }
  if (name == "center") {
    Args a(args, name, {"width"});
    return Value::string(pystr::center(to_str(v), a.get_int(0, 80), " "));
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : pystr::decode(to_str(v))) {
      bool w = pystr::is_alpha(c) || pystr::is_digit(c) || c == '_' || (c >= 0xC0 && c < 0x2000 && c != 0xD7 && c != 0xF7) ||
               (c >= 0x3040 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF);
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::integer(n);
  }
  if (name == "escape" || name == "e" || name == "forceescape") return Value::string(escape_html(to_str(v)));
  if (name == "attr") {
    Args a(args, name, {"name"});
    if (!a.get(0)) fail("attr() requires a name");
    std::string attr = to_str(*a.get(0));
    if (v.is_dict() || v.is_namespace()) {
      Value m = bound_method(v, attr);
      if (!m.is_undefined()) return m;
      return Value::undefined(fmt::format("{} has no attribute {}", describe_type_for_attr(v), string_repr(attr)));
    }
    return get_attr(v, attr);
  }
  if (name == "format") {
    if (!args.keyword.empty()) fail("format: keyword arguments are not supported");
    return binary_op(in, "%", Value::string(to_str(v)), Value::list(args.positional, true));
  }
  if (name == "batch") {
    Args a(args, name, {"linecount", "fill_with"});
    int64_t n = a.get_int(0, 1);
    if (n <= 0) fail("batch size must be positive");
    std::vector<Value> out, cur;
    for (const Value& item : iterate(v)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == n) {
        out.push_back(Value::list(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) {
      if (const Value* fill = a.get(1)) {
        while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
      }
      out.push_back(Value::list(std::move(cur)));
    }
    return Value::list(std::move(out));
  }
  fail(fmt::format("No filter named '{}'.", name));
}

}  // namespace keel::jinja
