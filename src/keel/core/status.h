// Status: the error value every fallible keel call returns.
//
// Canonical codes follow absl/gRPC. A message says what was wrong and, where
// it helps, what to do. Status is cheap to copy when OK (no allocation).
// Thread-safety: a Status is a value; distinct objects are independent.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>
#include <string_view>

namespace keel {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
};

// "INVALID_ARGUMENT", ...
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status ok_status() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  std::string_view message() const {
    return rep_ ? std::string_view(rep_->message) : std::string_view();
  }
  // "INVALID_ARGUMENT: message"
  std::string to_string() const;

  // Returns a copy whose message is "context: message" (code unchanged).
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

inline Status OkStatus() { return Status(); }

#define KEEL_DEFINE_STATUS_FACTORY(Name, Code)                              \
  inline Status Name(std::string message) {                                 \
    return Status(StatusCode::Code, std::move(message));                    \
  }                                                                         \
  template <typename... Args>                                               \
  Status Name(fmt::format_string<Args...> f, Args&&... args) {              \
    return Status(StatusCode::Code, fmt::format(f, std::forward<Args>(args)...)); \
  }

KEEL_DEFINE_STATUS_FACTORY(CancelledError, kCancelled)
KEEL_DEFINE_STATUS_FACTORY(InvalidArgumentError, kInvalidArgument)
KEEL_DEFINE_STATUS_FACTORY(DeadlineExceededError, kDeadlineExceeded)
KEEL_DEFINE_STATUS_FACTORY(NotFoundError, kNotFound)
KEEL_DEFINE_STATUS_FACTORY(ResourceExhaustedError, kResourceExhausted)
KEEL_DEFINE_STATUS_FACTORY(FailedPreconditionError, kFailedPrecondition)
KEEL_DEFINE_STATUS_FACTORY(OutOfRangeError, kOutOfRange)
KEEL_DEFINE_STATUS_FACTORY(UnimplementedError, kUnimplemented)
KEEL_DEFINE_STATUS_FACTORY(InternalError, kInternal)
KEEL_DEFINE_STATUS_FACTORY(UnavailableError, kUnavailable)
KEEL_DEFINE_STATUS_FACTORY(DataLossError, kDataLoss)
#undef KEEL_DEFINE_STATUS_FACTORY

}  // namespace keel

template <>
struct fmt::formatter<keel::Status> : fmt::formatter<std::string> {
  template <typename Ctx>
  auto format(const keel::Status& s, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(s.to_string(), ctx);
  }
};
