// Leveled logging through spdlog.
//
// Level: --log-level or KEEL_LOG_LEVEL (trace, debug, info, warn, error, off);
// the default is info. Lines go to stderr as
//   2026-11-26T10:00:00.123Z I keel: request finished id=r-1 tokens=12
// Context is written as key=value pairs in the message (use kv()).
// Thread-safe: spdlog's stderr sink is mutex-guarded.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

#include "keel/core/clock.h"
#include "keel/core/status.h"

namespace keel::log {

// Parses "trace".."error"/"off" (case-insensitive); InvalidArgument otherwise.
Status set_level(std::string_view level);
// The "keel" logger (stderr, UTC timestamps), set up on first use and made
// spdlog's default. Its function-local static lives in keel's (instrumented)
// code, so ThreadSanitizer sees every thread ordered after the set-up that
// libspdlog (not instrumented) does; logging straight through spdlog's
// lazily made default logger was reported as a race on its level.
spdlog::logger& logger();
// Applies KEEL_LOG_LEVEL if set; a bad value is reported and ignored.
void init_from_env();

// Keeps a flood of similar lines (e.g. one per refused request at overload)
// from costing the CPU and the log the flood is about: at most `burst`
// lines pass per `window`; the rest are counted, and the next line that
// passes says how many were held back. Metrics keep the exact counts.
// Thread-safe.
class LogThrottle {
 public:
  LogThrottle(int64_t burst, std::chrono::milliseconds window,
              const Clock& clock = Clock::real())
      : burst_(burst), window_(window), clock_(clock) {}
  // nullopt: drop this line. Otherwise log it, with the number of lines
  // dropped since the last one that passed.
  std::optional<int64_t> admit();

 private:
  const int64_t burst_;
  const std::chrono::milliseconds window_;
  const Clock& clock_;
  std::mutex mu_;
  std::optional<SteadyTime> window_start_;
  int64_t passed_ = 0;      // in the current window
  int64_t suppressed_ = 0;  // since the last line that passed
};

}  // namespace keel::log

#define KEEL_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define KEEL_LOG_DEBUG(...) ::keel::log::logger().debug(__VA_ARGS__)
#define KEEL_LOG_INFO(...) ::keel::log::logger().info(__VA_ARGS__)
#define KEEL_LOG_WARN(...) ::keel::log::logger().warn(__VA_ARGS__)
#define KEEL_LOG_ERROR(...) ::keel::log::logger().error(__VA_ARGS__)
