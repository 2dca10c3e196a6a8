// keel serve: the OpenAI-compatible HTTP server over one model.
//
// Start-up: load the model (every byte planned against the budget first),
// start the engine loop, bind the HTTP server, print the memory plan, the
// guaranteed concurrency and the URL. Then wait for SIGINT/SIGTERM (in
// bounded slices) and shut down in order: HTTP server (streams get a final
// error event), engine loop, engine (every request ended, pool whole), model.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>

#include "keel/cli/commands.h"
#include "keel/cli/model_options.h"
#include "keel/core/logging.h"
#include "keel/engine/engine.h"
#include "keel/engine/generator.h"
#include "keel/engine/model_executor.h"
#include "keel/memory/bytes.h"
#include "keel/memory/monitor.h"
#include "keel/server/engine_adapter.h"
#include "keel/server/http_server.h"
#include "keel/template/chat_template.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::cli {
namespace {

struct ServeOptions {
  ModelCliOptions model;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::string served_model_name;  // "" = the model folder's name
  int64_t max_num_seqs = 64;
  int64_t max_queued_requests = 256;
  double max_queue_wait_seconds = 60;
  double request_timeout_seconds = 600;
  double step_timeout_seconds = 60;
  double monitor_interval_seconds = 1;
  double memory_warn = 0.85;
  double memory_critical = 0.95;
  std::optional<std::string> api_key;  // unset: KEEL_API_KEY
  std::string max_body_bytes = "8MiB";
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// The lines printed once the server is up (stdout: scripts read the URL).
std::string startup_report(const model::Runtime& rt, const memory::MemoryBudget& budget,
                           const std::string& name, const std::string& url, double load_seconds) {
  const memory::KvPlan& kv = rt.kv_plan;
  const memory::BudgetSnapshot b = budget.snapshot();
  const uint64_t planned = rt.weights.bytes + kv.kv_pool_bytes + rt.workspace_bytes;
  auto count = [](int64_t n) { return memory::format_count(static_cast<uint64_t>(n)); };
  const std::string tp =
      rt.tp_size > 1 ? fmt::format("  tensor parallel: {} ranks, each with its own budget {} and "
                                   "shard; the plan below is rank 0's (the largest)\n",
                                   rt.tp_size, memory::format_bytes(b.limit_bytes))
                     : std::string();
  return fmt::format(
      "keel serve: model \"{}\" ({}) loaded in {:.2f} s\n{}"
      "  memory plan: weights {}, KV pool {} = {} tokens in {} blocks of {}, workspace {}, "
      "headroom {} (budget {})\n"
      "  guaranteed concurrency: {} sequences of {} tokens (the full context)\n"
      "  listening on {} (OpenAI API under /v1; /health, /ready, /metrics)\n",
      name, rt.full_config.summary(), load_seconds, tp, memory::format_bytes(rt.weights.bytes),
      memory::format_bytes(kv.kv_pool_bytes), count(kv.num_tokens), count(kv.num_blocks),
      kv.shape.block_size_tokens, memory::format_bytes(rt.workspace_bytes),
      memory::format_bytes(b.limit_bytes > planned ? b.limit_bytes - planned : 0),
      memory::format_bytes(b.limit_bytes), count(kv.guaranteed_concurrency),
      count(kv.context_length_tokens), url);
}

// Blocks SIGINT/SIGTERM in this thread and every thread it starts later, so
// that wait_for_signal() receives them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Waits for SIGINT/SIGTERM in one-second slices (no unbounded wait); returns
// the signal.
int wait_for_signal(const sigset_t& set) {
  for (;;) {
    timespec slice{1, 0};
    const int sig = sigtimedwait(&set, nullptr, &slice);
    if (sig > 0) return sig;
  }
}

int run_serve(const ServeOptions& o) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "keel serve: %s\n", s.to_string().c_str());
    return 1;
  };
  const sigset_t stop_signals = block_stop_signals();
  auto body_limit = memory::parse_bytes(o.max_body_bytes);
  if (!body_limit.ok()) return fail(body_limit.status().with_context("--max-body-bytes"));
  memory::MonitorOptions mo;
  mo.interval = to_ms(o.monitor_interval_seconds);
  mo.warn_fraction = o.memory_warn;
  mo.critical_fraction = o.memory_critical;
  mo.hysteresis_fraction = std::min(mo.hysteresis_fraction, o.memory_warn / 2);
  auto monitor = memory::MemoryMonitor::create(mo);
  if (!monitor.ok()) return fail(monitor.status().with_context("--memory-warn/--memory-critical"));
  auto tok = tokenizer::Tokenizer::from_path(o.model.model_dir);
  if (!tok.ok()) return fail(tok.status().with_context("loading the tokenizer"));
  // A TP step's deadline outlasts the step timeout, so the watchdog, which
  // names the stuck rank, reports a stall first.
  const auto step_timeout = to_ms(o.step_timeout_seconds);
  auto loaded = load_executor(o.model, o.max_num_seqs, step_timeout + step_timeout / 2 +
                                                           std::chrono::seconds(2));
  if (!loaded.ok()) return fail(loaded.status());
  const double load_seconds = loaded->load_seconds;

  engine::EngineConfig ec;
  ec.max_batch_tokens = o.model.max_batch_tokens;
  ec.max_running = o.max_num_seqs;
  ec.max_queued_requests = o.max_queued_requests;
  ec.max_queue_wait = to_ms(o.max_queue_wait_seconds);
  ec.default_timeout = to_ms(o.request_timeout_seconds);
  ec.eos_ids = engine::eos_ids(*loaded->rank0, *tok);
  ec.step_timeout = step_timeout;
  engine::Executor& executor = *loaded->executor;
  auto engine = engine::Engine::create(executor, ec, *tok);
  if (!engine.ok()) return fail(engine.status());
  (*engine)->start();

  const model::Runtime& rt = *loaded->rank0;
  server::ModelInfo info;
  info.name = o.served_model_name.empty()
                  ? std::filesystem::path(o.model.model_dir).lexically_normal().filename().string()
                  : o.served_model_name;
  if (info.name.empty()) info.name = "model";
  info.vocab_size = rt.config.vocab_size;
  info.max_model_len = rt.kv_plan.context_length_tokens;
  info.created_unix_seconds = static_cast<int64_t>(std::time(nullptr));
  // The chat template for /v1/chat/completions; without one (or with one
  // that does not compile) chat answers 400 and completions still work.
  auto chat_template = jinja::load_chat_template(o.model.model_dir);
  if (!chat_template.ok()) {
    KEEL_LOG_WARN("/v1/chat/completions is unavailable: {}", chat_template.status().to_string());
  }
  auto adapter = std::make_shared<server::EngineAdapter>(**engine, *tok, info,
                                                         std::chrono::seconds(30),
                                                         std::move(chat_template));

  server::ServerConfig sc;
  sc.api_key = o.api_key;
  sc.max_body_bytes = *body_limit;
  sc.max_request_timeout_seconds = std::max(sc.max_request_timeout_seconds, o.request_timeout_seconds);
  auto http = server::HttpServer::create(adapter, sc);
  if (!http.ok()) return fail(http.status());
  if (Status s = (*http)->start(o.host, o.port); !s.ok()) return fail(s);

  // The memory monitor: warning → /ready "degraded"; critical → admission
  // closed and new requests' max_tokens shortened (engine memory pressure).
  for (memory::MemoryBudget* b : loaded->budgets) (*monitor)->add_budget(*b);
  (*monitor)->add_kv_pool(executor.kv_pool());
  engine::Engine& eng = **engine;
  (*monitor)->add_listener([&eng, adapter](const memory::MonitorSnapshot& snap) {
    eng.set_memory_pressure(snap.level == memory::PressureLevel::kCritical);
    server::EngineAdapter::MemoryState state;
    state.level = static_cast<int>(snap.level);
    state.reason = snap.reason;
    for (const memory::ResourcePressure& r : snap.resources) {
      if (r.usage_fraction) state.usage.emplace_back(r.resource, *r.usage_fraction);
    }
    adapter->set_memory_state(std::move(state));
  });
  if (Status s = (*monitor)->start(); !s.ok()) return fail(s);
  const std::string url = fmt::format("http://{}:{}", o.host, (*http)->port());
  std::fputs(startup_report(rt, *loaded->budgets[0], info.name, url, load_seconds).c_str(),
             stdout);
  std::fflush(stdout);

  const int sig = wait_for_signal(stop_signals);
  KEEL_LOG_INFO("signal {} received; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  adapter->set_not_ready("the server is shutting down");
  (*monitor)->stop();
  Status stopped = (*http)->stop();
  if (!stopped.ok()) KEEL_LOG_WARN("http server stop: {}", stopped.to_string());
  if (Status s = (*engine)->stop_loop(); !s.ok()) {
    // The engine's worker thread is stuck and still uses the engine: it
    // cannot be destroyed. Leave now; the orchestrator restarts keel.
    KEEL_LOG_ERROR("stopping the engine: {}; exiting without cleanup", s.to_string());
    std::fflush(nullptr);
    std::_Exit(3);
  }
  (*engine)->shutdown();
  const engine::EngineStats st = (*engine)->stats();
  KEEL_LOG_INFO("stopped: {} requests submitted, {} generated tokens, kv blocks used {}", st.num_submitted,
                st.num_generation_tokens, st.kv_blocks_used);
  return 0;
}

}  // namespace

Runner add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "serve a model over an OpenAI-compatible HTTP API");
  add_model_options(cmd, o->model);
  add_tp_option(cmd, o->model);
  cmd->add_option("--host", o->host, "address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", o->port, "TCP port (0: any free port, printed at start-up)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--served-model-name", o->served_model_name,
                  "the model name clients send (default: the model folder's name)");
  cmd->add_option("--max-num-seqs", o->max_num_seqs, "most sequences running in one step")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--max-queued-requests", o->max_queued_requests,
                  "requests waiting beyond which new ones get 503 + Retry-After")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--max-queue-wait", o->max_queue_wait_seconds,
                  "seconds a request may wait to start before new ones are refused (503)")
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--request-timeout", o->request_timeout_seconds,
                  "default per-request deadline in seconds (the body's \"timeout\" overrides)")
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--step-timeout", o->step_timeout_seconds,
                  "seconds one engine step may run before the watchdog fails its requests, "
                  "aborts it and restarts the worker")
      ->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--monitor-interval", o->monitor_interval_seconds,
                  "seconds between memory monitor samples")
      ->check(CLI::Range(0.001, 3600.0));
  cmd->add_option("--memory-warn", o->memory_warn,
                  "fraction of a budget or of the host in use that logs a warning and makes "
                  "/ready report degraded")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--memory-critical", o->memory_critical,
                  "fraction at which admission closes (503) and new requests' max_tokens are "
                  "shortened until usage falls")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--api-key", o->api_key,
                  "require \"Authorization: Bearer KEY\" on /v1/* (default: env KEEL_API_KEY)");
  cmd->add_option("--max-body-bytes", o->max_body_bytes, "largest request body (413 above), e.g. 8MiB");
  return [o] { return run_serve(*o); };
}

}  // namespace keel::cli
