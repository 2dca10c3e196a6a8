// keel_load_bench's command line: the options and their parser (see the
// usage text in load_options.cc and the top of load_bench.cc).
//
// Contract: parse_options() validates every value (ranges included) and on a
// bad command line prints why plus the usage to stderr and returns nullopt;
// --help prints the usage to stdout and exits the process with status 0.
// Thread-safety: parse_options() is called once from main before any thread
// starts; Options is read-only afterwards and shared by all client threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace keel::load_bench {

struct Options {
  std::string url = "http://127.0.0.1:8000";
  std::string model;  // "": the first of GET /v1/models
  std::vector<int> concurrency = {1, 4, 16, 64};
  double duration_s = 20;
  double warmup_s = 3;
  int prompt_words = 48;
  int max_tokens = 64;
  double request_timeout_s = 60;
  int retry_backoff_ms = 50;
  bool keep_alive = true;  // one connection per client, reused across requests
  // After a 503 with Retry-After in (0, 60] s, wait that long (as the
  // official OpenAI clients do); otherwise --retry-backoff-ms.
  bool honor_retry_after = true;
  double temperature = 0.8;
  uint64_t seed = 1;
};

// Returns nullopt (after printing why) on a bad command line.
std::optional<Options> parse_options(int argc, char** argv);

}  // namespace keel::load_bench
