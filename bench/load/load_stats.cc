// See load_stats.h.
#include "load/load_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <optional>

namespace keel::load_bench {
namespace {

using nlohmann::json;

// Nearest-rank percentile of a sorted vector; nullopt when empty.
template <typename T>
std::optional<double> percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty()) return std::nullopt;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t idx = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted.size()))) - 1;
  return static_cast<double>(sorted[idx]);
}

json pct_json(std::vector<double> v, std::initializer_list<double> ps, bool with_max) {
  std::sort(v.begin(), v.end());
  json j = json::object();
  for (double p : ps) {
    const auto x = percentile(v, p);
    const std::string key = "p" + std::to_string(static_cast<int>(p));
    j[key] = x ? json(std::round(*x * 1000.0) / 1000.0) : json(nullptr);
  }
  if (with_max) j["max"] = v.empty() ? json(nullptr) : json(std::round(v.back() * 1000.0) / 1000.0);
  return j;
}

std::string fmt_ms(const json& j, const char* key) {
  const json& v = j.at(key);
  if (v.is_null()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
  return buf;
}

}  // namespace

json summarize(const Options& o, int concurrency, const std::vector<Record>& records) {
  const double w0 = o.warmup_s;
  const double w1 = o.warmup_s + o.duration_s;
  int64_t ok = 0, refused = 0, errors = 0, hangs = 0, short_ok = 0, completed_tokens = 0;
  double streamed_tokens = 0;  // tokens whose text event arrived inside the window
  std::vector<double> ttft, tpot, e2e, refused_ms, retry_after_s, gaps;
  std::map<std::string, int64_t> error_kinds;
  for (const Record& r : records) {
    if (r.outcome == Outcome::kHang) {
      ++hangs;
      ++error_kinds["HANG: " + r.error];
      continue;
    }
    if (r.outcome == Outcome::kError) {
      ++errors;
      ++error_kinds[r.error];
      continue;
    }
    if (r.outcome == Outcome::kOk && !r.text_s.empty()) {
      // usage.completion_tokens spread evenly over the request's text events.
      int64_t inside = 0;
      for (const double t : r.text_s) inside += (t >= w0 && t < w1) ? 1 : 0;
      streamed_tokens += static_cast<double>(r.completion_tokens) * static_cast<double>(inside) /
                         static_cast<double>(r.text_s.size());
    }
    if (r.end_s < w0 || r.end_s >= w1) continue;
    if (r.outcome == Outcome::kRefused) {
      ++refused;
      refused_ms.push_back(r.latency_ms);
      if (r.retry_after_s >= 0) retry_after_s.push_back(r.retry_after_s);
      continue;
    }
    ++ok;
    completed_tokens += r.completion_tokens;
    if (r.short_completion) ++short_ok;
    e2e.push_back(r.latency_ms);
    if (r.ttft_ms >= 0) ttft.push_back(r.ttft_ms);
    if (r.tpot_ms >= 0) tpot.push_back(r.tpot_ms);
    for (size_t i = 1; i < r.text_s.size(); ++i) {
      gaps.push_back((r.text_s[i] - r.text_s[i - 1]) * 1e3);
    }
  }
  json errs = json::array();
  for (const auto& [what, n] : error_kinds) {
    if (errs.size() >= 5) break;
    errs.push_back({{"count", n}, {"error", what}});
  }
  return {
      {"concurrency", concurrency},
      {"duration_s", o.duration_s},
      {"warmup_s", o.warmup_s},
      {"prompt_words", o.prompt_words},
      {"max_tokens", o.max_tokens},
      {"requests_ok", ok},
      {"requests_refused", refused},
      {"errors", errors},
      {"hangs", hangs},
      {"short_completions", short_ok},
      {"gen_tokens", std::round(streamed_tokens * 10.0) / 10.0},
      {"gen_tokens_per_s", std::round(streamed_tokens / o.duration_s * 100.0) / 100.0},
      {"completed_tokens", completed_tokens},
      {"completed_tokens_per_s",
       std::round(static_cast<double>(completed_tokens) / o.duration_s * 100.0) / 100.0},
      {"requests_per_s", std::round(static_cast<double>(ok) / o.duration_s * 1000.0) / 1000.0},
      {"ttft_ms", pct_json(ttft, {50, 90, 99}, false)},
      {"tpot_ms", pct_json(tpot, {50, 90, 99}, false)},
      {"itl_ms", pct_json(gaps, {50, 99}, true)},
      {"e2e_ms", pct_json(e2e, {50, 99}, false)},
      {"refused_ms", pct_json(refused_ms, {50, 99}, true)},
      {"retry_after_s", pct_json(retry_after_s, {50}, true)},
      {"error_samples", errs},
  };
}

void print_table_header() {
  std::fprintf(stderr, "%5s %9s %6s %6s %4s %4s %10s %19s %15s %19s %19s\n", "conc", "tok/s", "ok",
               "503", "err", "hang", "short", "ttft p50/p99 ms", "tpot p50/p99", "e2e p50/p99 ms",
               "refused p50/p99/max");
}

void print_table_row(const json& j) {
  const std::string ttft = fmt_ms(j["ttft_ms"], "p50") + "/" + fmt_ms(j["ttft_ms"], "p99");
  const std::string tpot = fmt_ms(j["tpot_ms"], "p50") + "/" + fmt_ms(j["tpot_ms"], "p99");
  const std::string e2e = fmt_ms(j["e2e_ms"], "p50") + "/" + fmt_ms(j["e2e_ms"], "p99");
  const std::string ref = fmt_ms(j["refused_ms"], "p50") + "/" + fmt_ms(j["refused_ms"], "p99") +
                          "/" + fmt_ms(j["refused_ms"], "max");
  std::fprintf(stderr, "%5d %9.1f %6lld %6lld %4lld %4lld %10lld %19s %15s %19s %19s\n",
               j["concurrency"].get<int>(), j["gen_tokens_per_s"].get<double>(),
               static_cast<long long>(j["requests_ok"].get<int64_t>()),
               static_cast<long long>(j["requests_refused"].get<int64_t>()),
               static_cast<long long>(j["errors"].get<int64_t>()),
               static_cast<long long>(j["hangs"].get<int64_t>()),
               static_cast<long long>(j["short_completions"].get<int64_t>()), ttft.c_str(),
               tpot.c_str(), e2e.c_str(), ref.c_str());
}

}  // namespace keel::load_bench
