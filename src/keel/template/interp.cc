#include "keel/template/interp.h"

#include "keel/template/error.h"
#include "keel/template/ops.h"
#include "keel/template/pyformat.h"

namespace keel::jinja {

const Value* Frame::find(const std::string& name) const {
  for (const Frame* f = this; f != nullptr; f = f->parent.get()) {
    for (const auto& [k, v] : f->vars) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Frame::set(const std::string& name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

Interp::Interp(const RenderLimits& limits, std::function<std::chrono::system_clock::time_point()> now)
    : limits_(limits), now_(std::move(now)) {}

void Interp::append(std::string& out, std::string_view text) {
  bytes_written_ += text.size();
  if (bytes_written_ > limits_.max_output_bytes) {
    fail_limit(fmt::format("template output exceeds max_output_bytes ({})", limits_.max_output_bytes));
  }
  out.append(text);
}

void Interp::check_string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    fail_limit(fmt::format("a string of {} bytes exceeds max_output_bytes ({})", bytes, limits_.max_output_bytes));
  }
}

void Interp::count_iterations(size_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_loop_iterations) {
    fail_limit(fmt::format("template loops exceed max_loop_iterations ({})", limits_.max_loop_iterations));
  }
}

void Interp::exec(const StmtList& body, const FramePtr& frame, std::string& out, Flow* flow) {
  for (const auto& s : body) {
    Flow f = exec_one(*s, frame, out);
    if (f != Flow::kNormal) {
      if (flow == nullptr) fail("'break' or 'continue' outside of a loop");
      *flow = f;
      return;
    }
  }
}

Flow Interp::exec_one(const Stmt& s, const FramePtr& frame, std::string& out) {
  Flow flow = Flow::kNormal;
  switch (s.kind) {
    case Stmt::Kind::kText: append(out, s.text); break;
    case Stmt::Kind::kPrint: append(out, to_str(eval(*s.expr, frame))); break;
    case Stmt::Kind::kIf:
      for (size_t i = 0; i < s.conds.size(); ++i) {
        if (eval(*s.conds[i], frame).truthy()) {
          exec(s.bodies[i], frame, out, &flow);
          return flow;
        }
      }
      exec(s.else_body, frame, out, &flow);
      return flow;
    case Stmt::Kind::kFor: exec_for(s, frame, out); break;
    case Stmt::Kind::kSet: assign(*s.target, eval(*s.expr, frame), frame); break;
    case Stmt::Kind::kSetBlock: {
      std::string captured;
      exec(s.body, frame, captured, nullptr);
      Value v = Value::string(std::move(captured));
      if (s.expr) {
        // The filter chain's innermost input is null: the captured text.
        std::vector<const Expr*> chain;
        for (const Expr* e = s.expr.get(); e != nullptr; e = e->args[0].get()) chain.push_back(e);
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
          CallArgs args = eval_args(**it, 1, frame);
          v = apply_filter(*this, (*it)->name, v, args);
        }
      }
      assign(*s.target, v, frame);
      break;
    }
    case Stmt::Kind::kMacro:
      frame->set(s.macro->name, make_macro(s.macro, frame, Value()));
      break;
    case Stmt::Kind::kCallBlock: {
      Value caller = make_macro(s.macro, frame, Value());
      const Expr& call_expr = *s.expr;
      Value fn = eval(*call_expr.args[0], frame);
      CallArgs args = eval_args(call_expr, 1, frame);
      args.keyword.emplace_back("caller", caller);
      append(out, to_str(call(fn, args)));
      break;
    }
    case Stmt::Kind::kFilterBlock: {
      std::string captured;
      exec(s.body, frame, captured, nullptr);
      Value v = Value::string(std::move(captured));
      std::vector<const Expr*> chain;
      for (const Expr* e = s.expr.get(); e != nullptr; e = e->args[0].get()) chain.push_back(e);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        CallArgs args = eval_args(**it, 1, frame);
        v = apply_filter(*this, (*it)->name, v, args);
      }
      append(out, to_str(v));
      break;
    }
    case Stmt::Kind::kBreak: return Flow::kBreak;
    case Stmt::Kind::kContinue: return Flow::kContinue;
    case Stmt::Kind::kBody:
      if (s.text == "with") {
        auto scope = std::make_shared<Frame>();
        scope->parent = frame;
        exec(s.body, scope, out, &flow);
      } else {
        exec(s.body, frame, out, &flow);
      }
      return flow;
  }
  return flow;
}

void Interp::exec_for(const Stmt& s, const FramePtr& frame, std::string& out) {
  std::vector<Value> items = iterate(eval(*s.expr, frame));
  if (s.cond) {
    std::vector<Value> kept;
    for (Value& item : items) {
      count_iterations(1);
      auto scope = std::make_shared<Frame>();
      scope->parent = frame;
      assign(*s.target, item, scope);
      if (eval(*s.cond, scope).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  size_t n = items.size();
  for (size_t i = 0; i < n; ++i) {
    count_iterations(1);
    auto scope = std::make_shared<Frame>();
    scope->parent = frame;
    DictData loop;
    auto put = [&](const char* k, Value v) { loop.items.emplace_back(Value::string(k), std::move(v)); };
    int64_t idx = static_cast<int64_t>(i), len = static_cast<int64_t>(n);
    put("index", Value::integer(idx + 1));
    put("index0", Value::integer(idx));
    put("revindex", Value::integer(len - idx));
    put("revindex0", Value::integer(len - idx - 1));
    put("first", Value::boolean(i == 0));
    put("last", Value::boolean(i + 1 == n));
    put("length", Value::integer(len));
    put("depth", Value::integer(1));
    put("depth0", Value::integer(0));
    put("previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
    put("nextitem", i + 1 < n ? items[i + 1] : Value::undefined("there is no next item"));
    put("cycle", Value::callable("cycle", [idx](Interp&, CallArgs& args) -> Value {
          if (args.positional.empty()) fail("no items for cycling given");
          return args.positional[static_cast<size_t>(idx) % args.positional.size()];
        }));
    scope->set("loop", Value::dict(std::move(loop)));
    assign(*s.target, items[i], scope);
    Flow flow = Flow::kNormal;
    exec(s.body, scope, out, &flow);
    if (flow == Flow::kBreak) break;
  }
  if (n == 0) exec(s.else_body, frame, out, nullptr);
}

void Interp::assign(const Expr& target, const Value& v, const FramePtr& frame) {
  if (target.kind == Expr::Kind::kName) {
    frame->set(target.name, v);
    return;
  }
  if (target.kind == Expr::Kind::kGetAttr) {
    Value ns = lookup(target.args[0]->name, frame);
    if (!ns.is_namespace()) fail("cannot assign attribute on non-namespace object");
    ns.namespace_attrs().set(Value::string(target.name), v);
    return;
  }
  // Tuple unpacking.
  std::vector<Value> items = iterate(v);
  if (items.size() != target.args.size()) {
    fail(items.size() > target.args.size()
             ? fmt::format("too many values to unpack (expected {})", target.args.size())
             : fmt::format("not enough values to unpack (expected {}, got {})", target.args.size(), items.size()));
  }
  for (size_t i = 0; i < items.size(); ++i) assign(*target.args[i], items[i], frame);
}

Value Interp::make_macro(std::shared_ptr<const MacroDef> def, const FramePtr& frame, Value) {
  std::weak_ptr<Frame> weak = frame;
  return Value::callable(def->name, [def, weak](Interp& in, CallArgs& args) -> Value {
    FramePtr parent = weak.lock();
    if (!parent) fail(fmt::format("macro '{}' called outside the scope that defined it", def->name));
    if (++in.call_depth_ > in.limits_.max_call_depth) {
      fail_limit(fmt::format("macro calls nested deeper than max_call_depth ({})", in.limits_.max_call_depth));
    }
    auto scope = std::make_shared<Frame>();
    scope->parent = parent;
    size_t n = def->params.size();
    std::vector<bool> bound(n, false);
    std::vector<Value> varargs;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < n) {
        scope->set(def->params[i], args.positional[i]);
        bound[i] = true;
      } else {
        varargs.push_back(args.positional[i]);
      }
    }
    DictData kwargs;
    Value caller;
    for (auto& [k, v] : args.keyword) {
      auto it = std::find(def->params.begin(), def->params.end(), k);
      if (it != def->params.end()) {
        scope->set(k, v);
        bound[static_cast<size_t>(it - def->params.begin())] = true;
      } else if (k == "caller") {
        caller = v;
      } else {
        kwargs.set(Value::string(k), v);
      }
    }
    size_t first_default = n - def->defaults.size();
    for (size_t i = 0; i < n; ++i) {
      if (bound[i]) continue;
      if (i >= first_default) {
        scope->set(def->params[i], in.eval(*def->defaults[i - first_default], scope));
      } else {
        scope->set(def->params[i], Value::undefined(fmt::format("parameter '{}' was not provided", def->params[i])));
      }
    }
    scope->set("varargs", Value::list(std::move(varargs), true));
    scope->set("kwargs", Value::dict(std::move(kwargs)));
    if (!caller.is_undefined()) scope->set("caller", caller);
    std::string out;
    in.exec(def->body, scope, out, nullptr);
    --in.call_depth_;
    return Value::string(std::move(out));
  }, true);
}

Value Interp::lookup(const std::string& name, const FramePtr& frame) {
  if (const Value* v = frame->find(name)) return *v;
  Value g = global_function(name);
  if (!g.is_undefined()) return g;
  return Value::undefined(fmt::format("'{}' is undefined", name));
}

CallArgs Interp::eval_args(const Expr& e, size_t first, const FramePtr& frame) {
  CallArgs args;
  size_t npos = e.num_positional();
  for (size_t i = first; i < npos; ++i) args.positional.push_back(eval(*e.args[i], frame));
  for (size_t i = 0; i < e.kwarg_names.size(); ++i) {
    args.keyword.emplace_back(e.kwarg_names[i], eval(*e.args[npos + i], frame));
  }
  return args;
}

Value Interp::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) fail(fn.undefined_message());
  if (!fn.is_callable()) fail(fmt::format("'{}' object is not callable", type_name(fn)));
  return fn.as_callable().fn(*this, args);
}

Value Interp::eval(const Expr& e, const FramePtr& frame) {
  switch (e.kind) {
    case Expr::Kind::kConst: return e.value;
    case Expr::Kind::kName: return lookup(e.name, frame);
    case Expr::Kind::kGetAttr: return get_attr(eval(*e.args[0], frame), e.name);
    case Expr::Kind::kGetItem: {
      Value obj = eval(*e.args[0], frame);
      const Expr& key = *e.args[1];
      if (key.kind == Expr::Kind::kSlice) {
        auto part = [&](size_t i) { return key.args[i] ? eval(*key.args[i], frame) : Value::none(); };
        return slice(obj, part(0), part(1), part(2));
      }
      return get_item(obj, eval(key, frame));
    }
    case Expr::Kind::kSlice: fail("slice outside of a subscript");
    case Expr::Kind::kCall: {
      Value fn = eval(*e.args[0], frame);
      CallArgs args = eval_args(e, 1, frame);
      return call(fn, args);
    }
    case Expr::Kind::kFilter: {
      Value input = eval(*e.args[0], frame);
      CallArgs args = eval_args(e, 1, frame);
      return apply_filter(*this, e.name, input, args);
    }
    case Expr::Kind::kTest: {
      Value input = eval(*e.args[0], frame);
      CallArgs args = eval_args(e, 1, frame);
      return Value::boolean(apply_test(*this, e.name, input, args));
    }
    case Expr::Kind::kNeg:
    case Expr::Kind::kPos: {
      Value v = eval(*e.args[0], frame);
      if (v.is_undefined()) fail(v.undefined_message());
      if (!v.is_number()) {
        fail(fmt::format("bad operand type for unary {}: '{}'", e.kind == Expr::Kind::kNeg ? '-' : '+', type_name(v)));
      }
      if (e.kind == Expr::Kind::kPos) return v.is_float() ? v : Value::integer(v.as_int());
      if (v.is_float()) return Value::number(-v.as_double());
      if (v.as_int() == INT64_MIN) fail("integer overflow (keel's ints are 64-bit)");
      return Value::integer(-v.as_int());
    }
    case Expr::Kind::kNot: return Value::boolean(!eval(*e.args[0], frame).truthy());
    case Expr::Kind::kBinary:
      return binary_op(*this, e.name, eval(*e.args[0], frame), eval(*e.args[1], frame));
    case Expr::Kind::kAnd: {
      Value l = eval(*e.args[0], frame);
      return l.truthy() ? eval(*e.args[1], frame) : l;
    }
    case Expr::Kind::kOr: {
      Value l = eval(*e.args[0], frame);
      return l.truthy() ? l : eval(*e.args[1], frame);
    }
    case Expr::Kind::kCompare: {
      Value left = eval(*e.args[0], frame);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1], frame);
        if (!compare_op(e.ops[i], left, right)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case Expr::Kind::kCondExpr:
      if (eval(*e.args[0], frame).truthy()) return eval(*e.args[1], frame);
      if (e.args[2]) return eval(*e.args[2], frame);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a, frame));
      return Value::list(std::move(items), e.kind == Expr::Kind::kTuple);
    }
    case Expr::Kind::kDict: {
      DictData d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], frame);
        if (k.is_list() && !k.is_tuple()) fail("unhashable type: 'list'");
        if (k.is_dict()) fail("unhashable type: 'dict'");
        d.set(std::move(k), eval(*e.args[i + 1], frame));
      }
      return Value::dict(std::move(d));
    }
  }
  fail("unknown expression");
}

}  // namespace keel::jinja
