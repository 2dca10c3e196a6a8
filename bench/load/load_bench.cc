// keel_load_bench: a closed-loop load generator for an OpenAI-compatible
// /v1/completions endpoint (keel serve), streaming.
//
//   keel_load_bench [--url http://127.0.0.1:8000] [--model NAME]
//                   [--concurrency 1,4,16,64] [--duration 20] [--warmup 3]
//                   [--prompt-words 48] [--max-tokens 64] [--request-timeout 60]
//                   [--retry-backoff-ms 50] [--temperature 0.8] [--seed 1]
//
// For each concurrency level N, N client threads each loop: send one
// streamed completion ("stream": true, "stream_options": {"include_usage":
// true}, "ignore_eos": true, a fresh prompt of --prompt-words words, its own
// seed), read it to the end, and send the next. A 503 (refused) is followed by
// a sleep of its Retry-After when that is in (0, 60] s and --retry-after is
// honor (the default: what the official OpenAI clients do), else of
// --retry-backoff-ms (--retry-after ignore keeps the pressure on: a stress
// mode); any other failure is followed by --retry-backoff-ms.
//
// Every socket wait is a poll() with the request's deadline (send time +
// --request-timeout): a request not finished by then is a HANG, and its
// socket is closed. With --keep-alive 1 (the default, as the official
// OpenAI clients do) each client keeps one connection open across its
// requests, reopening it when the server closes it; with --keep-alive 0 each
// request uses its own connection ("Connection: close"). Nothing waits without a bound, so a level takes at most
// warmup + duration + request-timeout + backoff.
//
// Window rule. A level runs for --warmup then --duration seconds (the
// window); clients start no request after the window ends, and the requests
// then in flight are read to the end (bounded by their deadline), so the load
// stays constant up to the window's end.
//   gen_tokens_per_s  tokens streamed inside the window / duration. A token
//            is counted when its SSE event arrives: an OK request's
//            usage.completion_tokens are spread evenly over its text events,
//            and the share whose events arrived inside the window counts
//            (so a request straddling either edge counts in part, and
//            batch-synchronous completions do not make the number jump with
//            where the window edge falls). Failed requests count no tokens.
//   completed_tokens_per_s  completion tokens of the OK requests that ENDED
//            inside the window / duration (the coarser rule, for reference)
// Latencies and the ok/refused counts are over the requests that ENDED (last
// byte received) inside the window; one that started in the warm-up counts,
// one that ends after the window is waited for and excluded. Errors and hangs
// are counted over the whole level (warm-up and drain included) so that no
// failure is ever discarded.
//   connections_opened  TCP connections the level's clients opened
//   ttft_ms  send (just before connect, when one is opened) -> first event with non-empty text
//   tpot_ms  (last text event - first text event) / (completion_tokens - 1),
//            per request with >= 2 tokens
//   itl_ms   every gap between consecutive text events (all requests pooled)
//   e2e_ms   send -> last byte of an OK request
//   refused_ms  send -> last byte of a 503 answer
//   retry_after_s  the Retry-After of the 503 answers (median, max)
// Percentiles are nearest-rank over the requests in the window.
//
// Output: one JSON line per level on stdout; a human table on stderr.
//
// Files (bench/load/): load_options (the command line), http_client and
// http_parsers (one bounded HTTP exchange per request, SSE splitting),
// load_stats (records, the per-level summary, its JSON line and table row);
// this file builds the requests, runs the clients and the levels.
// Threads: N client threads per level, each appending to its own records and
// sharing only read-only state (Options, Endpoint, LevelContext); they are
// joined (bounded, see above) before the level is summarized on main's thread.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "load/http_client.h"
#include "load/http_parsers.h"
#include "load/load_options.h"
#include "load/load_stats.h"

namespace keel::load_bench {
namespace {

using nlohmann::json;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ---------------------------------------------------------------- requests

// What the SSE stream of one completion said.
struct StreamState {
  bool done = false;  // "[DONE]"
  std::string error;  // an error event or unparsable event
  std::optional<int64_t> completion_tokens;
  std::vector<Clock::time_point> text_times;  // each event with non-empty text

  void on_event(std::string_view payload, Clock::time_point t) {
    if (payload == "[DONE]") {
      done = true;
      return;
    }
    const json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      if (error.empty()) error = "unparsable SSE event: " + std::string(payload.substr(0, 120));
      return;
    }
    if (auto e = j.find("error"); e != j.end()) {
      if (error.empty()) {
        const json& err = *e;
        error = "error event: " +
                (err.is_object() && err.contains("message") && err["message"].is_string()
                     ? err["message"].get<std::string>()
                     : err.dump());
      }
      return;
    }
    if (auto c = j.find("choices"); c != j.end() && c->is_array() && !c->empty()) {
      const json& choice = (*c)[0];
      if (auto text = choice.find("text");
          text != choice.end() && text->is_string() && !text->get_ref<const std::string&>().empty()) {
        text_times.push_back(t);
      }
    }
    if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
      if (auto ct = u->find("completion_tokens"); ct != u->end() && ct->is_number_integer()) {
        completion_tokens = ct->get<int64_t>();
      }
    }
  }
};

const char* const kWords[] = {
    "the",     "river",   "moves",   "slowly",  "past",    "old",     "stone",   "houses",
    "where",   "children", "play",   "under",   "bright",  "summer",  "skies",   "and",
    "a",       "quiet",   "wind",    "carries", "songs",   "from",    "distant", "hills",
    "people",  "gather",  "near",    "market",  "to",      "trade",   "bread",   "fish",
    "stories", "about",   "ships",   "that",    "sailed",  "across",  "cold",    "northern",
    "seas",    "long",    "ago",     "while",   "scholars", "wrote",  "books",   "on",
    "history", "science", "music",   "light",   "falls",   "through", "tall",    "windows",
    "of",      "library", "every",   "morning", "before",  "city",    "wakes",   "up",
    "with",    "sound",   "trains",  "bells",   "voices",  "in",      "streets", "green",
    "garden",  "small",   "bird",    "sings",   "its",     "clear",   "note",    "over",
    "field",   "farmers", "watch",   "rain",    "clouds",  "come",    "west",    "evening",
    "lamps",   "glow",    "warm",    "kitchens", "smell",  "fresh",   "soup",    "tea",
};
constexpr size_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

std::string make_prompt(std::mt19937_64& rng, int words) {
  std::string out;
  for (int i = 0; i < words; ++i) {
    std::string w = kWords[rng() % kNumWords];
    if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
    if (i > 0) out += ' ';
    out += w;
  }
  out += '.';
  return out;
}

struct LevelContext {
  const Options* options = nullptr;
  const Endpoint* endpoint = nullptr;
  std::string model;
  int concurrency = 0;
  Clock::time_point t0{};
  Clock::time_point window_start{};
  Clock::time_point window_end{};
};

Record run_completion(const LevelContext& ctx, const std::string& request, Connection* conn) {
  const Options& o = *ctx.options;
  Record rec;
  StreamState stream;
  SseParser sse;
  std::string error_body;
  const Clock::time_point sent = Clock::now();
  const Clock::time_point deadline =
      sent + std::chrono::duration_cast<Clock::duration>(
                 std::chrono::duration<double>(o.request_timeout_s));
  const ExchangeResult ex = http_exchange(
      *ctx.endpoint, request, deadline,
      [&](int status, std::string_view bytes, Clock::time_point t) {
        if (status == 200) {
          sse.feed(bytes, [&](std::string_view payload) { stream.on_event(payload, t); });
        } else if (error_body.size() < 2048) {
          error_body.append(bytes.substr(0, 2048 - error_body.size()));
        }
      },
      conn);
  const Clock::time_point end = Clock::now();
  rec.start_s = seconds_between(ctx.t0, sent);
  rec.end_s = seconds_between(ctx.t0, end);
  rec.latency_ms = seconds_between(sent, end) * 1e3;
  if (ex.io == Io::kTimeout) {
    rec.outcome = Outcome::kHang;
    char what[160];
    std::snprintf(what, sizeof what,
                  "no complete response within --request-timeout (%.1f s); HTTP status %s",
                  o.request_timeout_s,
                  ex.status != 0 ? std::to_string(ex.status).c_str() : "not received");
    rec.error = what;
    return rec;
  }
  if (ex.io != Io::kOk) {
    rec.outcome = Outcome::kError;
    rec.error = ex.error;
    return rec;
  }
  if (ex.status == 503) {
    rec.outcome = Outcome::kRefused;
    rec.retry_after_s = ex.retry_after_s;
    return rec;
  }
  if (ex.status != 200) {
    rec.outcome = Outcome::kError;
    rec.error = "HTTP " + std::to_string(ex.status) + ": " + error_body.substr(0, 300);
    return rec;
  }
  rec.outcome = Outcome::kError;
  if (!stream.error.empty()) {
    rec.error = stream.error.substr(0, 300);
  } else if (!stream.done) {
    rec.error = "the stream ended without data: [DONE]";
  } else if (!stream.completion_tokens) {
    rec.error = "no usage chunk (stream_options.include_usage)";
  } else if (stream.text_times.empty() && *stream.completion_tokens > 0) {
    rec.error = "completion_tokens > 0 but no text event";
  } else {
    rec.outcome = Outcome::kOk;
    rec.completion_tokens = *stream.completion_tokens;
    rec.short_completion = rec.completion_tokens < o.max_tokens;
    const std::vector<Clock::time_point>& tt = stream.text_times;
    if (!tt.empty()) rec.ttft_ms = seconds_between(sent, tt.front()) * 1e3;
    if (!tt.empty() && rec.completion_tokens >= 2) {
      rec.tpot_ms = seconds_between(tt.front(), tt.back()) * 1e3 /
                    static_cast<double>(rec.completion_tokens - 1);
    }
    rec.text_s.reserve(tt.size());
    for (const Clock::time_point t : tt) rec.text_s.push_back(seconds_between(ctx.t0, t));
  }
  return rec;
}

void client_loop(const LevelContext& ctx, int client, std::vector<Record>& out,
                 int64_t& connections) {
  const Options& o = *ctx.options;
  // Deterministic per (--seed, level, client); every request differs.
  std::seed_seq seq{o.seed, static_cast<uint64_t>(ctx.concurrency), static_cast<uint64_t>(client)};
  std::mt19937_64 rng(seq);
  const std::string path = "/v1/completions";
  Connection conn;  // kept open across requests with --keep-alive 1
  while (Clock::now() < ctx.window_end) {
    json body = {
        {"model", ctx.model},
        {"prompt", make_prompt(rng, o.prompt_words)},
        {"max_tokens", o.max_tokens},
        {"stream", true},
        {"stream_options", {{"include_usage", true}}},
        {"ignore_eos", true},
        {"temperature", o.temperature},
        {"seed", static_cast<int64_t>(rng() % 1'000'000'000ULL)},
    };
    const std::string request = make_request(*ctx.endpoint, "POST", path, body.dump(), o.keep_alive);
    Record rec = run_completion(ctx, request, o.keep_alive ? &conn : nullptr);
    if (!o.keep_alive) ++connections;
    const bool back_off = rec.outcome != Outcome::kOk;
    // The OpenAI clients wait a Retry-After in (0, 60] s; else they back off.
    const bool use_retry_after = o.honor_retry_after && rec.outcome == Outcome::kRefused &&
                                 rec.retry_after_s > 0 && rec.retry_after_s <= 60;
    const auto wait = use_retry_after
                          ? std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(rec.retry_after_s))
                          : std::chrono::duration_cast<Clock::duration>(
                                std::chrono::milliseconds(o.retry_backoff_ms));
    out.push_back(std::move(rec));
    if (back_off && wait > Clock::duration::zero()) {
      std::this_thread::sleep_until(std::min(Clock::now() + wait, ctx.window_end));
    }
  }
  if (o.keep_alive) connections += conn.opened();
}

// GET /v1/models → the first model's id.
bool discover_model(const Options& o, const Endpoint& ep, std::string& model, std::string& err) {
  std::string body;
  const ExchangeResult ex = http_exchange(
      ep, make_request(ep, "GET", "/v1/models", ""), Clock::now() + std::chrono::seconds(10),
      [&](int, std::string_view bytes, Clock::time_point) {
        if (body.size() < (1 << 20)) body.append(bytes);
      });
  if (ex.io != Io::kOk || ex.status != 200) {
    err = "GET " + o.url + "/v1/models failed: " +
          (ex.io == Io::kTimeout ? std::string("no answer within 10 s")
           : ex.io != Io::kOk    ? ex.error
                                 : "HTTP " + std::to_string(ex.status) + " " + body.substr(0, 200));
    return false;
  }
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].is_array() || j["data"].empty() ||
      !j["data"][0].contains("id") || !j["data"][0]["id"].is_string()) {
    err = "GET /v1/models: no model in " + body.substr(0, 200);
    return false;
  }
  model = j["data"][0]["id"].get<std::string>();
  return true;
}

// ---------------------------------------------------------------- levels

int run(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  const std::optional<Options> parsed = parse_options(argc, argv);
  if (!parsed) return 2;
  const Options& o = *parsed;
  Endpoint ep;
  std::string err;
  if (!resolve(o.url, ep, err)) {
    std::fprintf(stderr, "keel_load_bench: %s\n", err.c_str());
    return 2;
  }
  std::string model = o.model;
  if (model.empty() && !discover_model(o, ep, model, err)) {
    std::fprintf(stderr, "keel_load_bench: %s\n", err.c_str());
    return 1;
  }
  std::fprintf(stderr,
               "keel_load_bench: %s model \"%s\", prompt ~%d words, max_tokens %d, warm-up %.1f s + "
               "window %.1f s per level, request timeout %.1f s, 503 back-off: %s%d ms, %s\n",
               o.url.c_str(), model.c_str(), o.prompt_words, o.max_tokens, o.warmup_s,
               o.duration_s, o.request_timeout_s,
               o.honor_retry_after ? "Retry-After, else " : "", o.retry_backoff_ms,
               o.keep_alive ? "keep-alive connections" : "a new connection per request");
  print_table_header();
  int64_t total_hangs = 0;
  for (const int n : o.concurrency) {
    LevelContext ctx;
    ctx.options = &o;
    ctx.endpoint = &ep;
    ctx.model = model;
    ctx.concurrency = n;
    ctx.t0 = Clock::now();
    const auto to_dur = [](double s) {
      return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    ctx.window_start = ctx.t0 + to_dur(o.warmup_s);
    ctx.window_end = ctx.window_start + to_dur(o.duration_s);
    std::vector<std::vector<Record>> per_client(static_cast<size_t>(n));
    std::vector<int64_t> connections(static_cast<size_t>(n), 0);
    std::vector<std::thread> threads;
    threads.reserve(static_cast<size_t>(n));
    // Each client stops starting requests at window_end and every request is
    // bounded by --request-timeout, so these joins are bounded too.
    for (int c = 0; c < n; ++c) {
      threads.emplace_back(client_loop, std::cref(ctx), c,
                           std::ref(per_client[static_cast<size_t>(c)]),
                           std::ref(connections[static_cast<size_t>(c)]));
    }
    for (std::thread& t : threads) t.join();
    const double level_s = seconds_between(ctx.t0, Clock::now());
    std::vector<Record> all;
    for (auto& v : per_client) {
      for (Record& r : v) all.push_back(std::move(r));
    }
    json j = summarize(o, n, all);
    j["level_wall_s"] = std::round(level_s * 100.0) / 100.0;
    int64_t opened = 0;
    for (const int64_t c : connections) opened += c;
    j["connections_opened"] = opened;
    total_hangs += j["hangs"].get<int64_t>();
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
    print_table_row(j);
    for (const json& e : j["error_samples"]) {
      std::fprintf(stderr, "      %lld x %s\n", static_cast<long long>(e["count"].get<int64_t>()),
                   e["error"].get<std::string>().c_str());
    }
  }
  return total_hangs == 0 ? 0 : 3;
}

}  // namespace
}  // namespace keel::load_bench

int main(int argc, char** argv) { return keel::load_bench::run(argc, argv); }
