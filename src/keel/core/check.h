// KEEL_CHECK: for bugs (broken invariants), never for bad input.
// On failure it logs the condition, file and line, and aborts.
#pragma once

#include <sstream>

namespace keel::internal {

class CheckFailure {
 public:
  CheckFailure(const char* cond, const char* file, int line);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Makes `cond ? (void)0 : Voidify() & CheckFailure(...) << ...` well-typed.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace keel::internal

#define KEEL_CHECK(cond)                                 \
  (cond) ? (void)0                                       \
         : ::keel::internal::Voidify() &                 \
               ::keel::internal::CheckFailure(#cond, __FILE__, __LINE__)

#define KEEL_CHECK_EQ(a, b) KEEL_CHECK((a) == (b)) << " (" << (a) << " vs " << (b) << ") "
#define KEEL_CHECK_LT(a, b) KEEL_CHECK((a) < (b)) << " (" << (a) << " vs " << (b) << ") "
#define KEEL_CHECK_LE(a, b) KEEL_CHECK((a) <= (b)) << " (" << (a) << " vs " << (b) << ") "
