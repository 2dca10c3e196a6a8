// keel chat: an interactive terminal chat with a model, in this process.
//
// The model folder's chat template renders the conversation (history kept
// across turns); the prompt goes through the same engine and adapter as
// `keel serve` (EngineAdapter::render_chat / tokenize_chat / submit), with
// the template's end-of-turn ids as stop ids. The reply streams to stdout.
// Commands: /reset (forget the conversation, keep --system), /exit (or EOF
// on stdin: exit 0). Ctrl-C (SIGINT) during a reply cancels that request
// and returns to the prompt; at the prompt it only clears the line.
//
// Signals: SIGINT is blocked in every thread keel starts and handled only by
// the main thread (a flag the reply loop polls every 50 ms; a prompt read
// is interrupted by it).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "keel/cli/commands.h"
#include "keel/cli/model_options.h"
#include "keel/core/logging.h"
#include "keel/core/thread_pool.h"
#include "keel/engine/engine.h"
#include "keel/engine/generator.h"
#include "keel/engine/model_executor.h"
#include "keel/server/engine_adapter.h"
#include "keel/template/chat_template.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::cli {
namespace {

using ojson = nlohmann::ordered_json;

struct ChatCliOptions {
  ModelCliOptions model;
  std::string system;
  std::optional<int64_t> max_new_tokens;  // unset: the rest of the context window
  std::optional<float> temperature;       // unset: generation_config.json, else greedy
  std::optional<uint64_t> seed;
  std::string template_name;
};

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted.store(true); }

// Collects one reply's output from the engine thread for the main thread.
class ReplySink final : public server::OutputSink {
 public:
  void on_output(std::string_view text, std::span<const int32_t>) override {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ += text;
    cv_.notify_all();
  }
  void on_final(server::GenerationFinal final_info) override {
    std::lock_guard<std::mutex> lock(mu_);
    final_ = std::move(final_info);
    cv_.notify_all();
  }
  // Waits up to `slice`; returns the new text; sets `final_out` once ended.
  std::string take(std::chrono::milliseconds slice,
                   std::optional<server::GenerationFinal>& final_out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, slice, [this] { return !pending_.empty() || final_.has_value(); });
    std::string out = std::move(pending_);
    pending_.clear();
    if (final_) final_out = final_;
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  std::optional<server::GenerationFinal> final_;
};

// One line from stdin without its newline; nullopt at EOF. A SIGINT while
// waiting clears the line and reprints the prompt.
std::optional<std::string> read_line(bool tty, std::string& buffer) {
  for (;;) {
    const size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    char chunk[4096];
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      if (g_interrupted.exchange(false)) {
        buffer.clear();
        if (tty) std::fputs("\n(/exit or Ctrl-D quits)\n> ", stdout);
        std::fflush(stdout);
      }
      continue;
    }
    if (buffer.empty()) return std::nullopt;  // EOF (or a read error)
    std::string line = std::move(buffer);     // a last line without newline
    buffer.clear();
    return line;
  }
}

sampling::SamplingParams sampling_params(const ChatCliOptions& o, const model::GenerationConfig& g) {
  sampling::SamplingParams p;
  const bool sample = g.do_sample.value_or(false);
  p.temperature = o.temperature.value_or(sample ? g.temperature.value_or(1.0f) : 0.0f);
  if (p.temperature > 0 && sample) {
    p.top_p = g.top_p.value_or(1.0f);
    p.top_k = g.top_k.value_or(0);
  }
  p.repetition_penalty = g.repetition_penalty.value_or(1.0f);
  p.seed = o.seed;
  return p;
}

int run_chat(const ChatCliOptions& o) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "keel chat: %s\n", s.to_string().c_str());
    return 1;
  };
  // Every thread started from here on inherits the blocked SIGINT.
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigint, nullptr);

  auto tok = tokenizer::Tokenizer::from_path(o.model.model_dir);
  if (!tok.ok()) return fail(tok.status().with_context("loading the tokenizer"));
  auto chat_template = jinja::load_chat_template(
      o.model.model_dir,
      o.template_name.empty() ? std::nullopt : std::optional<std::string>(o.template_name));
  if (!chat_template.ok()) {
    if (chat_template.status().code() == StatusCode::kNotFound) {
      return fail(NotFoundError("{} has no chat template; use `keel generate` for plain text",
                                o.model.model_dir));
    }
    return fail(chat_template.status().with_context("loading the chat template"));
  }
  auto loaded = load_executor(o.model, 1, std::chrono::minutes(10));
  if (!loaded.ok()) return fail(loaded.status());

  engine::EngineConfig ec;
  ec.max_batch_tokens = o.model.max_batch_tokens;
  ec.max_running = 1;
  ec.max_queued_requests = 1;
  ec.default_timeout = std::chrono::hours(24);
  ec.eos_ids = engine::eos_ids(*loaded->rank0, *tok);
  auto engine = engine::Engine::create(*loaded->executor, ec, *tok);
  if (!engine.ok()) return fail(engine.status());
  (*engine)->start();
  (void)ThreadPool::global();  // its workers start now, with SIGINT blocked

  const model::Runtime& rt = *loaded->rank0;
  server::ModelInfo info;
  info.name = std::filesystem::path(o.model.model_dir).lexically_normal().filename().string();
  info.vocab_size = rt.config.vocab_size;
  info.max_model_len = rt.kv_plan.context_length_tokens;
  info.created_unix_seconds = static_cast<int64_t>(std::time(nullptr));
  server::EngineAdapter adapter(**engine, *tok, info, std::chrono::seconds(30),
                                std::move(chat_template));
  const sampling::SamplingParams sampling = sampling_params(o, rt.generation);

  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a SIGINT interrupts the prompt's read()
  sigaction(SIGINT, &sa, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &sigint, nullptr);

  const bool tty = ::isatty(STDIN_FILENO) != 0;
  ojson history = ojson::array();
  auto reset = [&] {
    history = ojson::array();
    if (!o.system.empty()) history.push_back({{"role", "system"}, {"content", o.system}});
  };
  reset();
  if (tty) {
    std::printf("keel chat: model \"%s\" (context %lld tokens). /reset forgets, /exit quits; "
                "Ctrl-C stops a reply.\n",
                info.name.c_str(), static_cast<long long>(info.max_model_len));
  }
  std::string buffer;
  int turn = 0;
  for (;;) {
    if (tty) std::fputs("> ", stdout);
    std::fflush(stdout);
    std::optional<std::string> line = read_line(tty, buffer);
    if (!line) break;
    if (line->empty()) continue;
    if (*line == "/exit" || *line == "/quit") break;
    if (*line == "/reset") {
      reset();
      std::fputs("(conversation reset)\n", stdout);
      continue;
    }
    if ((*line)[0] == '/') {
      std::fprintf(stderr, "keel chat: unknown command %s (/reset, /exit)\n", line->c_str());
      continue;
    }
    history.push_back({{"role", "user"}, {"content", *line}});
    server::ChatRenderRequest render;
    render.messages = history;
    render.add_generation_prompt = true;
    Result<std::string> prompt = adapter.render_chat(render);
    Result<std::vector<int32_t>> ids =
        prompt.ok() ? adapter.tokenize_chat(*prompt) : Result<std::vector<int32_t>>(prompt.status());
    server::GenerationRequest req;
    req.id = fmt::format("chat-{}", turn++);
    if (ids.ok()) req.prompt_ids = std::move(ids).value();
    req.sampling = sampling;
    req.stop.stop_token_ids = adapter.chat_stop_token_ids();
    req.stop.max_new_tokens = o.max_new_tokens.value_or(1);
    req.max_new_tokens = o.max_new_tokens;
    auto sink = std::make_shared<ReplySink>();
    Result<std::string> submitted =
        ids.ok() ? adapter.submit(std::move(req), sink) : Result<std::string>(ids.status());
    if (!submitted.ok()) {
      std::fprintf(stderr, "keel chat: %s\n", submitted.status().to_string().c_str());
      history.erase(history.size() - 1);
      continue;
    }
    std::string reply;
    std::optional<server::GenerationFinal> final_info;
    bool stopped = false;
    g_interrupted.store(false);
    while (!final_info) {
      std::string text = sink->take(std::chrono::milliseconds(50), final_info);
      if (!text.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        reply += text;
      }
      if (!final_info && g_interrupted.exchange(false) && !stopped) {
        stopped = true;
        (void)adapter.cancel(*submitted);
      }
    }
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!final_info->status.ok()) {
      std::fprintf(stderr, "keel chat: %s\n", final_info->status.to_string().c_str());
      history.erase(history.size() - 1);
      continue;
    }
    if (stopped) std::fputs("[stopped]\n", stderr);
    history.push_back({{"role", "assistant"}, {"content", reply}});
  }
  if (Status s = (*engine)->stop_loop(); !s.ok()) {
    KEEL_LOG_ERROR("stopping the engine: {}; exiting without cleanup", s.to_string());
    std::fflush(nullptr);
    std::_Exit(3);
  }
  (*engine)->shutdown();
  return 0;
}

}  // namespace

Runner add_chat_command(CLI::App& app) {
  auto o = std::make_shared<ChatCliOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "chat with a model in the terminal (its chat template)");
  add_model_options(cmd, o->model);
  add_tp_option(cmd, o->model);
  cmd->add_option("--system", o->system, "a system message that starts every conversation");
  cmd->add_option("--max-new-tokens,-n", o->max_new_tokens,
                  "most tokens per reply (default: the rest of the context window)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--temperature", o->temperature,
                  "0 = greedy (default: generation_config.json, else greedy)")
      ->check(CLI::Range(0.0f, 2.0f));
  cmd->add_option("--seed", o->seed, "sampling seed");
  cmd->add_option("--template-name", o->template_name,
                  "which of the model's named chat templates (default: \"default\")");
  return [o] { return run_chat(*o); };
}

}  // namespace keel::cli
