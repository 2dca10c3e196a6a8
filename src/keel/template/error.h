// The evaluator's internal error: a Status thrown from deep inside an
// expression and caught at the module boundary (Template::render), where it
// becomes the Result. Exceptions never leave keel_template: every public
// function catches them. (An interpreter's every subexpression can fail;
// threading Result through each of them would double the evaluator's size
// without changing what callers see.)
#pragma once

#include <exception>
#include <string>

#include "keel/core/status.h"

namespace keel::jinja {

class TemplateError : public std::exception {
 public:
  explicit TemplateError(Status status) : status_(std::move(status)) {}
  const Status& status() const { return status_; }
  const char* what() const noexcept override { return "keel::jinja::TemplateError"; }

 private:
  Status status_;
};

// A runtime error of the template (Jinja2's TypeError, UndefinedError, ...):
// InvalidArgument with `message`.
[[noreturn]] inline void fail(std::string message) {
  throw TemplateError(InvalidArgumentError(std::move(message)));
}

// A resource limit was hit: ResourceExhausted.
[[noreturn]] inline void fail_limit(std::string message) {
  throw TemplateError(ResourceExhaustedError(std::move(message)));
}

}  // namespace keel::jinja
