#include "keel/core/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace keel::log {
namespace {

void ensure_logger() {
  static const bool once = [] {
    auto logger = spdlog::stderr_logger_mt("keel");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %L %n: %v", spdlog::pattern_time_type::utc);
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::info);
    return true;
  }();
  (void)once;
}

}  // namespace

spdlog::logger& logger() {
  static spdlog::logger* const l = [] {
    ensure_logger();
    return spdlog::default_logger_raw();
  }();
  return *l;
}

Status set_level(std::string_view level) {
  ensure_logger();
  std::string l(level);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "warning") l = "warn";
  static constexpr std::string_view kNames[] = {"trace", "debug", "info", "warn", "error", "off"};
  for (std::string_view n : kNames) {
    if (l == n) {
      spdlog::set_level(spdlog::level::from_str(l));
      return OkStatus();
    }
  }
  return InvalidArgumentError(
      "unknown log level '{}': use one of trace, debug, info, warn, error, off", level);
}

void init_from_env() {
  ensure_logger();
  if (const char* env = std::getenv("KEEL_LOG_LEVEL"); env && *env) {
    if (Status s = set_level(env); !s.ok()) {
      KEEL_LOG_WARN("KEEL_LOG_LEVEL ignored: {}", s.message());
    }
  }
}

std::optional<int64_t> LogThrottle::admit() {
  const SteadyTime now = clock_.now();
  std::lock_guard<std::mutex> lock(mu_);
  if (!window_start_ || now - *window_start_ >= window_) {
    window_start_ = now;
    passed_ = 0;
  }
  if (passed_ >= burst_) {
    ++suppressed_;
    return std::nullopt;
  }
  ++passed_;
  const int64_t dropped = suppressed_;
  suppressed_ = 0;
  return dropped;
}

}  // namespace keel::log
