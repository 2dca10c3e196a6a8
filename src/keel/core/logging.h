// Leveled logging through spdlog.
//
// Level: --log-level or KEEL_LOG_LEVEL (trace, debug, info, warn, error, off);
// the default is info. Lines go to stderr as
//   2026-11-26T10:00:00.123Z I keel: request finished id=r-1 tokens=12
// Context is written as key=value pairs in the message (use kv()).
// Thread-safe: spdlog's stderr sink is mutex-guarded.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

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

}  // namespace keel::log

#define KEEL_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define KEEL_LOG_DEBUG(...) ::keel::log::logger().debug(__VA_ARGS__)
#define KEEL_LOG_INFO(...) ::keel::log::logger().info(__VA_ARGS__)
#define KEEL_LOG_WARN(...) ::keel::log::logger().warn(__VA_ARGS__)
#define KEEL_LOG_ERROR(...) ::keel::log::logger().error(__VA_ARGS__)
