// keel_load_bench's results: one Record per request, and the per-level
// summary under the window rule stated at the top of load_bench.cc.
//
// Contract: summarize() counts errors and hangs over every record (warm-up
// and drain included), ok/refused counts and latencies over the records that
// ENDED inside [warmup_s, warmup_s + duration_s), and gen_tokens over the text
// events that arrived inside it; percentiles are nearest-rank, rounded to
// 0.001 ms, null when there is no sample. Its JSON object is the line printed
// on stdout; print_table_*() write the human table to stderr.
// Thread-safety: each client thread fills its own vector of Records;
// summarize() and the printers run on one thread after the level's clients
// are joined. All are pure functions of their arguments apart from stderr.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "load/load_options.h"

namespace keel::load_bench {

enum class Outcome { kOk, kRefused, kError, kHang };

struct Record {
  Outcome outcome = Outcome::kError;
  double start_s = 0;  // since the level began
  double end_s = 0;
  double latency_ms = 0;  // e2e for OK, refusal latency for 503
  double retry_after_s = -1;  // 503: its Retry-After header (< 0: none)
  double ttft_ms = -1;
  double tpot_ms = -1;
  int64_t completion_tokens = 0;
  bool short_completion = false;  // OK, but fewer tokens than max_tokens
  std::vector<double> text_s;     // arrival of each text event, since the level began
  std::string error;              // kError / kHang: why
};

// The level's JSON line (without level_wall_s, which the caller adds); at
// most 5 error_samples, the distinct error messages in sorted order.
nlohmann::json summarize(const Options& o, int concurrency, const std::vector<Record>& records);

void print_table_header();
void print_table_row(const nlohmann::json& j);

}  // namespace keel::load_bench
