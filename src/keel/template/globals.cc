// Global functions: Jinja2's range, dict and namespace, and
// transformers' raise_exception and strftime_now.
#include <ctime>

#include "keel/template/error.h"
#include "keel/template/interp.h"
#include "keel/template/ops.h"
#include "keel/template/pyformat.h"

namespace keel::jinja {
namespace {

Value range_fn(Interp& in, CallArgs& args) {
  if (!args.keyword.empty()) fail("range() takes no keyword arguments");
  std::vector<int64_t> a;
  for (const Value& v : args.positional) a.push_back(to_int(v, "range() argument"));
  if (a.empty() || a.size() > 3) fail(fmt::format("range expected at most 3 arguments, got {}", a.size()));
  int64_t start = a.size() == 1 ? 0 : a[0];
  int64_t stop = a.size() == 1 ? a[0] : a[1];
  int64_t step = a.size() == 3 ? a[2] : 1;
  if (step == 0) fail("range() arg 3 must not be zero");
  double count = std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
  if (count > static_cast<double>(in.limits().max_loop_iterations)) {
    fail_limit(fmt::format("range() of {} items exceeds max_loop_iterations ({})", count,
                           in.limits().max_loop_iterations));
  }
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(Value::integer(i));
  return Value::list(std::move(out));
}

Value kwargs_dict(CallArgs& args, std::string_view fn) {
  DictData d;
  for (const Value& p : args.positional) {
    if (!p.is_dict()) fail(fmt::format("{}() positional argument must be a mapping", fn));
    for (const auto& [k, v] : p.as_dict().items) d.set(k, v);
  }
  for (auto& [k, v] : args.keyword) d.set(Value::string(k), v);
  return Value::dict(std::move(d));
}

}  // namespace

Value global_function(const std::string& name) {
  if (name == "range") return Value::callable(name, range_fn);
  if (name == "dict") return Value::callable(name, [](Interp&, CallArgs& a) { return kwargs_dict(a, "dict"); });
  if (name == "namespace") {
    return Value::callable(name, [](Interp&, CallArgs& a) {
      return Value::make_namespace(kwargs_dict(a, "namespace").as_dict());
    });
  }
  if (name == "raise_exception") {
    return Value::callable(name, [](Interp&, CallArgs& a) -> Value {
      Args args(a, "raise_exception", {"message"});
      throw TemplateError(InvalidArgumentError(to_str(args.get_or(0, Value::string("")))));
    });
  }
  if (name == "strftime_now") {
    return Value::callable(name, [](Interp& in, CallArgs& a) -> Value {
      Args args(a, "strftime_now", {"format"});
      std::string f = to_str(args.get_or(0, Value::string("")));
      std::time_t t = std::chrono::system_clock::to_time_t(in.now());
      std::tm tm{};
      localtime_r(&t, &tm);
      char buf[512];
      size_t n = f.empty() ? 0 : std::strftime(buf, sizeof(buf), f.c_str(), &tm);
      if (n == 0 && !f.empty()) fail("strftime_now: format produced no output or more than 511 bytes");
      return Value::string(std::string(buf, n));
    });
  }
  return Value();
}

}  // namespace keel::jinja
