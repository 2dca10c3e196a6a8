// Template: a compiled Jinja2 template rendered byte-for-byte as Python
// Jinja2 renders it under HuggingFace transformers' chat-template settings
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
// loopcontrols, transformers' tojson / raise_exception / strftime_now).
//
// Thread-safety: a compiled Template is immutable; render() may run on many
// threads at once (each render has its own scopes and counters). Copies
// share the syntax tree.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "keel/core/result.h"
#include "keel/template/interp.h"

namespace keel::jinja {

struct CompileOptions {
  // Deepest nesting of expressions and blocks (ResourceExhausted beyond).
  int max_nesting_depth = 200;
  // Largest template source accepted (ResourceExhausted beyond).
  size_t max_source_bytes = 1u << 20;
};

struct RenderOptions {
  RenderLimits limits;
  // The clock strftime_now() reads; null means the system clock.
  std::function<std::chrono::system_clock::time_point()> now;
};

class Template {
 public:
  // InvalidArgument "line L, column C: <what was expected>" on a syntax error.
  static Result<Template> compile(std::string_view source, const CompileOptions& options = {});

  // Renders with `context` (a JSON object) as the template's variables. Key
  // order of objects matters for `tojson` and dict iteration, so pass
  // ordered_json where the input's order must be kept (the nlohmann::json
  // overload sorts keys, as nlohmann::json does).
  // Errors: InvalidArgument for template errors — raise_exception(msg) gives
  // exactly msg; undefined values, type errors, sandbox violations give
  // Jinja2's message — and ResourceExhausted naming the limit that was hit.
  Result<std::string> render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;
  Result<std::string> render(const nlohmann::json& context, const RenderOptions& options = {}) const;

 private:
  explicit Template(std::shared_ptr<const StmtList> body) : body_(std::move(body)) {}
  std::shared_ptr<const StmtList> body_;
};

}  // namespace keel::jinja
