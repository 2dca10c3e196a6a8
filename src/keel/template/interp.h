// Interp: one render of a compiled template — scopes, output, limits. Created
// per render call, so a compiled Template stays immutable and shareable.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "keel/template/ast.h"
#include "keel/template/value.h"

namespace keel::jinja {

struct RenderLimits {
  // Bytes the template may write (counting text captured by macros and
  // block sets too); also caps any one string it builds.
  size_t max_output_bytes = 16u << 20;
  // Loop iterations over the whole render (and the size of range() /
  // repeated lists).
  size_t max_loop_iterations = 1'000'000;
  // Nested macro / caller() calls.
  int max_call_depth = 100;
};

// A scope. Jinja2 gives each loop iteration and each macro call a new one;
// `if` and `set` do not. Lookups walk to the root (the render context).
struct Frame {
  std::shared_ptr<Frame> parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);
};
using FramePtr = std::shared_ptr<Frame>;

enum class Flow { kNormal, kBreak, kContinue };

class Interp {
 public:
  // `now` gives strftime_now its time (injectable for tests).
  Interp(const RenderLimits& limits, std::function<std::chrono::system_clock::time_point()> now);

  void exec(const StmtList& body, const FramePtr& frame, std::string& out, Flow* flow);
  Value eval(const Expr& e, const FramePtr& frame);
  Value call(const Value& fn, CallArgs& args);

  const RenderLimits& limits() const { return limits_; }
  void append(std::string& out, std::string_view text);
  void check_string_size(size_t bytes) const;
  void count_iterations(size_t n);
  std::chrono::system_clock::time_point now() const { return now_(); }

 private:
  Flow exec_one(const Stmt& s, const FramePtr& frame, std::string& out);
  void exec_for(const Stmt& s, const FramePtr& frame, std::string& out);
  void assign(const Expr& target, const Value& v, const FramePtr& frame);
  Value make_macro(std::shared_ptr<const MacroDef> def, const FramePtr& frame, Value caller);
  Value lookup(const std::string& name, const FramePtr& frame);
  CallArgs eval_args(const Expr& e, size_t first, const FramePtr& frame);

  RenderLimits limits_;
  std::function<std::chrono::system_clock::time_point()> now_;
  size_t bytes_written_ = 0;
  size_t iterations_ = 0;
  int call_depth_ = 0;
};

// Filters (filters.cc) and tests (predicates.cc) by name; unknown names fail.
Value apply_filter(Interp& in, const std::string& name, const Value& input, CallArgs& args);
bool apply_test(Interp& in, const std::string& name, const Value& input, CallArgs& args);
// Globals: range, dict, namespace, raise_exception, strftime_now
// (globals.cc); an undefined Value when `name` is none of them.
Value global_function(const std::string& name);

}  // namespace keel::jinja
