// Result<T>: a T or a non-OK Status (like absl::StatusOr).
//
// Access to value() on an error is a bug and CHECK-fails. Use
// KEEL_ASSIGN_OR_RETURN / KEEL_RETURN_IF_ERROR to propagate errors.
#pragma once

#include <optional>
#include <utility>

#include "keel/core/check.h"
#include "keel/core/status.h"

namespace keel {

template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit from a value or an error status, so `return value;` and
  // `return InvalidArgumentError(...)` both work.
  Result(T value) : value_(std::move(value)) {}  // NOLINT
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    KEEL_CHECK(!status_.ok()) << "Result constructed from an OK status";
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    KEEL_CHECK(ok()) << status_.to_string();
    return *value_;
  }
  const T& value() const& {
    KEEL_CHECK(ok()) << status_.to_string();
    return *value_;
  }
  T&& value() && {
    KEEL_CHECK(ok()) << status_.to_string();
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

namespace internal {
inline const Status& get_status(const Status& s) { return s; }
template <typename T>
const Status& get_status(const Result<T>& r) { return r.status(); }
}  // namespace internal

}  // namespace keel

#define KEEL_CONCAT_INNER_(a, b) a##b
#define KEEL_CONCAT_(a, b) KEEL_CONCAT_INNER_(a, b)

#define KEEL_RETURN_IF_ERROR(expr)                                        \
  do {                                                                    \
    auto&& keel_status_or_ = (expr);                                      \
    if (!::keel::internal::get_status(keel_status_or_).ok())              \
      return ::keel::internal::get_status(keel_status_or_);               \
  } while (0)

#define KEEL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#define KEEL_ASSIGN_OR_RETURN(lhs, expr) \
  KEEL_ASSIGN_OR_RETURN_IMPL_(KEEL_CONCAT_(keel_result_, __LINE__), lhs, expr)
