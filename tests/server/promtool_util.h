// Runs `promtool check metrics` (Debian's prometheus package) on exposition
// text. Tests GTEST_SKIP with a message when promtool is absent.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace keel::server::testing {

inline std::optional<std::string> find_promtool() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string p = dir + "/promtool";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

struct PromtoolResult {
  int exit_code = -1;
  std::string output;
};

// Bounded by `timeout 30`: a hung promtool fails the test, never CI.
inline PromtoolResult promtool_check(const std::string& promtool, const std::string& text) {
  std::string file = std::filesystem::temp_directory_path() /
                     ("keel_metrics_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
  }
  std::string cmd = "timeout 30 " + promtool + " check metrics < " + file + " 2>&1";
  PromtoolResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove(file);
  return r;
}

}  // namespace keel::server::testing

#define KEEL_REQUIRE_PROMTOOL(var)                                                           \
  auto var##_opt = ::keel::server::testing::find_promtool();                                 \
  if (!var##_opt) GTEST_SKIP() << "promtool not found: apt-get install prometheus (Debian)"; \
  const std::string& var = *var##_opt
