// See load_options.h.
#include "load/load_options.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace keel::load_bench {
namespace {

const char* const kUsage =
    "usage: keel_load_bench [--url http://127.0.0.1:8000] [--model NAME]\n"
    "                       [--concurrency 1,4,16,64] [--duration 20] [--warmup 3]\n"
    "                       [--prompt-words 48] [--max-tokens 64] [--request-timeout 60]\n"
    "                       [--retry-backoff-ms 50] [--retry-after honor|ignore]\n"
    "                       [--keep-alive 1] [--temperature 0.8] [--seed 1]\n"
    "Closed-loop streaming load on POST /v1/completions; one JSON line per level on\n"
    "stdout, a table on stderr. See bench/README.md (\"Serving load\").\n";

bool parse_double(std::string_view s, double& out) {
  try {
    size_t used = 0;
    out = std::stod(std::string(s), &used);
    return used == s.size() && std::isfinite(out);
  } catch (...) {
    return false;
  }
}

bool parse_int(std::string_view s, int64_t& out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  auto fail = [](const std::string& why) -> std::optional<Options> {
    std::fprintf(stderr, "keel_load_bench: %s\n%s", why.c_str(), kUsage);
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return fail(flag + " needs a value");
    const std::string value = argv[++i];
    int64_t n = 0;
    double d = 0;
    if (flag == "--url") {
      o.url = value;
    } else if (flag == "--model") {
      o.model = value;
    } else if (flag == "--concurrency") {
      o.concurrency.clear();
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        if (!parse_int(std::string_view(value).substr(start, comma - start), n) || n < 1 ||
            n > 4096) {
          return fail("--concurrency takes a list of integers in [1, 4096], got " + value);
        }
        o.concurrency.push_back(static_cast<int>(n));
        start = comma + 1;
      }
    } else if (flag == "--duration") {
      if (!parse_double(value, d) || d <= 0 || d > 86400) return fail("bad --duration " + value);
      o.duration_s = d;
    } else if (flag == "--warmup") {
      if (!parse_double(value, d) || d < 0 || d > 86400) return fail("bad --warmup " + value);
      o.warmup_s = d;
    } else if (flag == "--prompt-words") {
      if (!parse_int(value, n) || n < 1 || n > 100000) return fail("bad --prompt-words " + value);
      o.prompt_words = static_cast<int>(n);
    } else if (flag == "--max-tokens") {
      if (!parse_int(value, n) || n < 1 || n > 1000000) return fail("bad --max-tokens " + value);
      o.max_tokens = static_cast<int>(n);
    } else if (flag == "--request-timeout") {
      if (!parse_double(value, d) || d <= 0 || d > 86400) {
        return fail("bad --request-timeout " + value);
      }
      o.request_timeout_s = d;
    } else if (flag == "--retry-backoff-ms") {
      if (!parse_int(value, n) || n < 0 || n > 600000) {
        return fail("bad --retry-backoff-ms " + value);
      }
      o.retry_backoff_ms = static_cast<int>(n);
    } else if (flag == "--retry-after") {
      if (value != "honor" && value != "ignore") {
        return fail("--retry-after takes honor or ignore, got " + value);
      }
      o.honor_retry_after = value == "honor";
    } else if (flag == "--keep-alive") {
      if (value != "0" && value != "1") return fail("--keep-alive takes 0 or 1, got " + value);
      o.keep_alive = value == "1";
    } else if (flag == "--temperature") {
      if (!parse_double(value, d) || d < 0 || d > 2) return fail("bad --temperature " + value);
      o.temperature = d;
    } else if (flag == "--seed") {
      if (!parse_int(value, n) || n < 0) return fail("bad --seed " + value);
      o.seed = static_cast<uint64_t>(n);
    } else {
      return fail("unknown flag " + flag);
    }
  }
  return o;
}

}  // namespace keel::load_bench
