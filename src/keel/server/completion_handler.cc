#include "keel/server/completion_handler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

#include "keel/core/logging.h"
#include "keel/server/completion_channel.h"
#include "keel/server/openai_protocol.h"
#include "keel/server/openai_response.h"

namespace keel::server {
namespace {

using SteadyClock = std::chrono::steady_clock;

// One HTTP completion in flight: its engine requests, what has arrived, and
// the numbers for the log line. Used by one thread at a time.
struct Completion {
  Completion(ServerContext& c, std::string rid) : ctx(c), request_id(std::move(rid)) {}

  ServerContext& ctx;
  std::string request_id;
  CompletionIds ids;
  CompletionRequest request;  // for chat: model and options (no prompts)
  bool chat = false;
  std::vector<int32_t> chat_stop_ids;  // chat: end-of-turn ids added to every choice
  std::vector<std::string> echo_texts;  // per prompt, when echo
  std::vector<std::vector<int32_t>> prompt_ids;
  int64_t prompt_tokens = 0;
  std::vector<std::string> engine_ids;  // per submitted choice
  std::shared_ptr<CompletionChannel> channel;
  std::vector<ChoiceResult> choices;
  std::vector<bool> done;
  size_t num_done = 0;
  UsageInfo usage;
  double tpot_sum = 0;
  int64_t tpot_count = 0;
  SteadyClock::time_point started = SteadyClock::now();
  SteadyClock::time_point deadline;
  std::optional<ApiError> failure;  // the first choice that failed, or a server-side end
  bool logged = false;

  size_t num_choices() const { return choices.size(); }
  bool all_done() const { return num_done == choices.size(); }

  void cancel_unfinished() {
    for (size_t k = 0; k < engine_ids.size(); ++k) {
      if (!done[k]) (void)ctx.engine->cancel(engine_ids[k]);
    }
  }

  // Applies one channel update: appends text (non-streaming) and records a
  // final. A failed final sets `failure`.
  void apply(CompletionChannel::Update& u, bool keep_text) {
    ChoiceResult& c = choices[u.index];
    if (keep_text) c.text += u.text;
    if (!u.final_info || done[u.index]) return;
    const GenerationFinal& f = *u.final_info;
    done[u.index] = true;
    ++num_done;
    c.end = choice_end_from(f);
    usage.completion_tokens += f.completion_tokens;
    usage.preemptions += f.num_preemptions;
    usage.queue_seconds = std::max(usage.queue_seconds, f.queue_seconds);
    if (f.ttft_seconds > 0 && (usage.ttft_seconds == 0 || f.ttft_seconds < usage.ttft_seconds)) {
      usage.ttft_seconds = f.ttft_seconds;
    }
    usage.e2e_seconds = std::max(usage.e2e_seconds, f.e2e_seconds);
    if (f.tpot_seconds > 0) {
      tpot_sum += f.tpot_seconds;
      ++tpot_count;
    }
    if (!f.status.ok() && !failure) {
      ApiError e = api_error_from_status(f.status, std::nullopt,
                                         std::max<int64_t>(1, f.retry_after_seconds));
      if (e.http_status >= 500 && e.http_status != 503) {
        e.message = fmt::format("{} (request id {})", e.message, request_id);
      }
      failure = std::move(e);
    }
  }

  void log_finished(int http_status) {
    if (logged) return;
    logged = true;
    std::set<std::string> reasons, details;
    for (size_t k = 0; k < choices.size(); ++k) {
      if (!done[k]) continue;
      reasons.insert(std::string(sampling::finish_reason_name(choices[k].end.finish_reason)));
      if (!choices[k].end.finish_detail.empty()) details.insert(choices[k].end.finish_detail);
    }
    double wall = std::chrono::duration<double>(SteadyClock::now() - started).count();
    std::string error = failure ? fmt::format(" error=\"{}\"", failure->message) : "";
    auto line = fmt::format(
        "request finished id={} status={} choices={} prompt_tokens={} generated_tokens={} "
        "queue_s={:.4f} ttft_s={:.4f} tpot_s={:.4f} e2e_s={:.4f} wall_s={:.4f} "
        "finish_reason={} finish_detail={} preemptions={}{}",
        request_id, http_status, choices.size(), prompt_tokens, usage.completion_tokens,
        usage.queue_seconds, usage.ttft_seconds, tpot_count ? tpot_sum / tpot_count : 0.0,
        usage.e2e_seconds, wall,
        reasons.empty() ? "none" : fmt::format("{}", fmt::join(reasons, ",")),
        details.empty() ? "none" : fmt::format("{}", fmt::join(details, ",")), usage.preemptions,
        error);
    if (http_status >= 500 && http_status != 503) {
      KEEL_LOG_ERROR("{}", line);
    } else {
      KEEL_LOG_INFO("{}", line);
    }
  }
};

// One line per refused request, throttled: at overload the server refuses
// thousands of requests a second, and formatting and writing a line for each
// would take CPU from the requests it is serving (the counts are exact in
// /metrics). 503s (overload) and other refusals are throttled separately.
void log_rejected(const std::string& request_id, const ApiError& e) {
  static log::LogThrottle overload_lines(/*burst=*/5, std::chrono::seconds(1));
  static log::LogThrottle other_lines(/*burst=*/50, std::chrono::seconds(1));
  const std::optional<int64_t> dropped =
      (e.http_status == 503 ? overload_lines : other_lines).admit();
  if (!dropped) return;
  const std::string held_back =
      *dropped > 0 ? fmt::format(" ({} more refusals not logged; /metrics counts all)", *dropped)
                   : std::string();
  auto line = fmt::format("request rejected id={} status={} code={} param={} message=\"{}\"{}",
                          request_id, e.http_status, e.code, e.param.value_or("-"), e.message,
                          held_back);
  if (e.http_status >= 500 && e.http_status != 503) {
    KEEL_LOG_ERROR("{}", line);
  } else {
    KEEL_LOG_INFO("{}", line);
  }
}

ApiError internal_error(const std::string& request_id, std::string_view what) {
  return http_error(500, "server_error", "internal_error",
                    fmt::format("internal error (request id {}): {}", request_id, what));
}

// A failed render or tokenization of a chat prompt: 503/504 stay retryable,
// internal failures are 500 with the request id, the rest are the client's (400).
ApiError render_error(const Completion& c, const Status& s, const std::string& param) {
  const StatusCode code = s.code();
  if (code == StatusCode::kDeadlineExceeded || code == StatusCode::kUnavailable) {
    return api_error_from_status(s);  // 504 / 503: the client may retry
  }
  if (code == StatusCode::kInternal || code == StatusCode::kDataLoss) {
    return internal_error(c.request_id, s.to_string());
  }
  return invalid_request(param, std::string(s.message()));
}

ProtocolLimits protocol_limits(const ServerContext& ctx) {
  ProtocolLimits limits;
  limits.vocab_size = ctx.model.vocab_size;
  limits.max_n = ctx.config.max_n;
  limits.max_prompts = ctx.config.max_prompts;
  limits.max_choices = ctx.config.max_choices;
  limits.max_stop = ctx.config.max_stop;
  limits.max_timeout_seconds = ctx.config.max_request_timeout_seconds;
  return limits;
}

// The checks before any tokenizer or template work: the model name,
// shutdown, and admission (a full queue, memory at critical). Under overload
// most requests end here, so a refusal costs a JSON parse, not a
// tokenization; the engine's own check at submit stays the authority.
std::optional<ApiError> check_admission(ServerContext& ctx, const std::string& model) {
  if (model != ctx.model.name) {
    ApiError e = http_error(404, "not_found_error", "model_not_found",
                            fmt::format("model \"{}\" does not exist; this server serves \"{}\"",
                                        model, ctx.model.name));
    e.param = "model";
    return e;
  }
  if (ctx.stopping()) {
    ApiError e = http_error(503, "server_error", "unavailable", "the server is shutting down");
    e.retry_after_seconds = 1;
    return e;
  }
  const EngineSnapshot snap = ctx.engine->snapshot();
  if (!snap.admission_closed_reason.empty()) {
    ApiError e = http_error(503, "server_error", "unavailable", snap.admission_closed_reason);
    e.retry_after_seconds = std::max<int64_t>(1, snap.retry_after_seconds);
    e.retry_after_ms = snap.retry_after_ms;
    return e;
  }
  return std::nullopt;
}

// Parses, checks the model, tokenizes. nullopt on success.
std::optional<ApiError> prepare(Completion& c, const std::string& body) {
  ServerContext& ctx = c.ctx;
  Parsed<CompletionRequest> parsed = parse_completion_request(body, protocol_limits(ctx));
  if (!parsed.ok()) return parsed.error;
  c.request = std::move(*parsed.value);
  if (std::optional<ApiError> e = check_admission(ctx, c.request.model)) return e;
  const auto& prompts = c.request.prompts;
  for (size_t p = 0; p < prompts.size(); ++p) {
    std::string param = prompts.size() == 1 ? "prompt" : fmt::format("prompt[{}]", p);
    std::vector<int32_t> ids;
    std::string echo;
    if (prompts[p].text) {
      Result<std::vector<int32_t>> r = ctx.engine->tokenize(*prompts[p].text);
      if (!r.ok()) {
        const StatusCode code = r.status().code();
        if (code == StatusCode::kInvalidArgument) {
          return invalid_request(param, fmt::format("{}: {}", param, r.status().message()));
        }
        if (code == StatusCode::kDeadlineExceeded || code == StatusCode::kUnavailable) {
          return api_error_from_status(r.status());  // 504 / 503: the client may retry
        }
        return internal_error(c.request_id, r.status().to_string());
      }
      ids = std::move(r).value();
      echo = *prompts[p].text;
    } else {
      ids = prompts[p].token_ids;
      if (c.request.echo) {
        Result<std::string> r = ctx.engine->detokenize(ids);
        if (!r.ok()) {
          return invalid_request(
              param, fmt::format("{} cannot be decoded for echo: {}", param, r.status().message()));
        }
        echo = std::move(r).value();
      }
    }
    if (ids.empty()) {
      return invalid_request(param, fmt::format("{} is empty (no tokens)", param));
    }
    c.prompt_tokens += static_cast<int64_t>(ids.size());
    c.prompt_ids.push_back(std::move(ids));
    c.echo_texts.push_back(c.request.echo ? std::move(echo) : std::string());
  }
  return std::nullopt;
}

// Chat: parses, checks the model, renders the messages with the model's
// chat template and tokenizes the prompt without adding special tokens.
std::optional<ApiError> prepare_chat(Completion& c, const std::string& body) {
  ServerContext& ctx = c.ctx;
  Parsed<ChatCompletionRequest> parsed = parse_chat_completion_request(body, protocol_limits(ctx));
  if (!parsed.ok()) return parsed.error;
  ChatCompletionRequest& chat = *parsed.value;
  c.chat = true;
  c.request.model = chat.model;
  c.request.options = chat.options;
  if (std::optional<ApiError> e = check_admission(ctx, c.request.model)) return e;
  ChatRenderRequest render;
  render.messages = std::move(chat.messages);
  render.tools = std::move(chat.tools);
  render.add_generation_prompt = chat.add_generation_prompt;
  if (chat.tool_choice) render.kwargs["tool_choice"] = *chat.tool_choice;
  for (auto& [key, value] : chat.chat_template_kwargs.items()) render.kwargs[key] = value;
  Result<std::string> prompt = ctx.engine->render_chat(render);
  if (!prompt.ok()) {
    const Status& s = prompt.status();
    if (s.code() == StatusCode::kNotFound) {
      ApiError e = invalid_request("model", std::string(s.message()));
      e.code = "no_chat_template";
      return e;
    }
    ApiError e = render_error(c, s, "messages");
    if (e.http_status == 400) e.code = "chat_template_error";
    return e;
  }
  Result<std::vector<int32_t>> ids = ctx.engine->tokenize_chat(*prompt);
  if (!ids.ok()) return render_error(c, ids.status(), "messages");
  if (ids->empty()) return invalid_request("messages", "the rendered chat prompt is empty");
  c.prompt_tokens = static_cast<int64_t>(ids->size());
  c.prompt_ids.push_back(std::move(ids).value());
  c.echo_texts.emplace_back();
  if (!c.request.options.ignore_eos) c.chat_stop_ids = ctx.engine->chat_stop_token_ids();
  return std::nullopt;
}

GenerationRequest make_generation(const Completion& c, size_t k) {
  const GenerationOptions& o = c.request.options;
  GenerationRequest g;
  g.id = fmt::format("{}-{}", c.request_id, k);
  g.prompt_ids = c.prompt_ids[k / static_cast<size_t>(o.n)];
  g.sampling = o.sampling;
  if (g.sampling.seed && o.n > 1) *g.sampling.seed += k % static_cast<size_t>(o.n);
  g.stop.stop_strings = o.stop;
  g.stop.stop_token_ids = o.stop_token_ids;
  for (int32_t id : c.chat_stop_ids) {
    if (std::find(g.stop.stop_token_ids.begin(), g.stop.stop_token_ids.end(), id) ==
        g.stop.stop_token_ids.end()) {
      g.stop.stop_token_ids.push_back(id);
    }
  }
  g.stop.min_new_tokens = o.min_tokens;
  g.stop.ignore_eos = o.ignore_eos;
  g.stop.include_stop_str_in_output = o.include_stop_str_in_output;
  g.stop.max_new_tokens = o.max_tokens.value_or(1);
  g.max_new_tokens = o.max_tokens;
  g.strict_length = o.strict_max_tokens;
  if (o.timeout_seconds) {
    g.timeout = std::chrono::milliseconds(static_cast<int64_t>(*o.timeout_seconds * 1000.0));
  }
  return g;
}

// Submits every choice; on a refusal cancels the ones already queued.
std::optional<ApiError> submit_all(Completion& c) {
  const size_t n = c.prompt_ids.size() * static_cast<size_t>(c.request.options.n);
  c.choices.resize(n);
  c.done.assign(n, false);
  for (size_t k = 0; k < n; ++k) c.choices[k].index = static_cast<int64_t>(k);
  c.channel = CompletionChannel::create(n, c.ctx.metrics);
  auto limit = c.request.options.timeout_seconds ? std::chrono::milliseconds(static_cast<int64_t>(
                                                       *c.request.options.timeout_seconds * 1000.0))
                                                 : c.ctx.config.default_request_deadline;
  c.deadline = c.started + limit + c.ctx.config.final_grace;
  for (size_t k = 0; k < n; ++k) {
    Result<std::string> id = c.ctx.engine->submit(make_generation(c, k), c.channel->sink(k));
    if (!id.ok()) {
      c.cancel_unfinished();
      const Status& s = id.status();
      if (s.code() == StatusCode::kInvalidArgument)
        return invalid_request("prompt", std::string(s.message()));
      if (is_retryable(s.code())) {
        const EngineSnapshot snap = c.ctx.engine->snapshot();
        ApiError e = api_error_from_status(s, std::nullopt, snap.retry_after_seconds);
        e.retry_after_ms = snap.retry_after_ms;
        return e;
      }
      ApiError e = api_error_from_status(s);
      if (e.http_status >= 500)
        e.message = fmt::format("{} (request id {})", e.message, c.request_id);
      return e;
    }
    c.engine_ids.push_back(std::move(id).value());
  }
  return std::nullopt;
}

ApiError shutting_down() {
  ApiError e = http_error(503, "server_error", "unavailable",
                          "the server is shutting down; retry on another instance");
  e.retry_after_seconds = 1;
  return e;
}

ApiError deadline_passed(const Completion& c) {
  return http_error(
      504, "server_error", "deadline_exceeded",
      fmt::format("the engine did not finish the request in time (request id {})", c.request_id));
}

void respond_blocking(Completion& c, httplib::Response& res) {
  const auto poll = c.ctx.config.disconnect_poll;
  Connection* conn = current_connection();
  while (!c.all_done()) {
    for (auto& u : c.channel->wait_take(Deadline::after(poll))) c.apply(u, true);
    if (c.all_done()) break;
    if (conn && conn->peer_closed()) {
      c.cancel_unfinished();
      c.failure =
          http_error(499, "invalid_request_error", "client_closed", "client closed the connection");
      c.log_finished(499);
      res.status = 499;
      return;
    }
    if (c.ctx.stopping())
      c.failure = shutting_down();
    else if (SteadyClock::now() >= c.deadline)
      c.failure = deadline_passed(c);
    if (c.failure) {
      c.cancel_unfinished();
      break;
    }
  }
  if (c.failure) {
    write_error(c.ctx, res, *c.failure);
    c.log_finished(c.failure->http_status);
    return;
  }
  for (size_t k = 0; k < c.num_choices(); ++k) {
    size_t p = k / static_cast<size_t>(c.request.options.n);
    c.choices[k].text.insert(0, c.echo_texts[p]);
  }
  c.usage.prompt_tokens = c.prompt_tokens;
  res.status = 200;
  res.set_content(c.chat ? chat_response_json(c.ids, c.choices, c.usage)
                         : completion_response_json(c.ids, c.choices, c.usage),
                  std::string(kJsonType));
  c.log_finished(200);
}

// The SSE side: called by httplib until it calls sink.done() or fails.
class StreamWriter {
 public:
  explicit StreamWriter(std::unique_ptr<Completion> c) : c_(std::move(c)) {}

  bool provide(httplib::DataSink& sink) {
    Completion& c = *c_;
    std::string out;
    if (!started_) {
      started_ = true;
      for (size_t k = 0; k < c.num_choices(); ++k) {
        if (c.chat) {
          // A chat stream opens each choice with the assistant role.
          out += sse_event(chat_chunk_json(c.ids, static_cast<int64_t>(k), true, "", nullptr,
                                           c.request.options.include_usage));
          continue;
        }
        const std::string& echo = c.echo_texts[k / static_cast<size_t>(c.request.options.n)];
        if (!echo.empty()) out += chunk(k, echo, nullptr);
      }
    }
    auto wait = out.empty() ? Deadline::after(c.ctx.config.disconnect_poll)
                            : Deadline::after(std::chrono::milliseconds(0));
    for (auto& u : c.channel->wait_take(wait)) {
      c.apply(u, false);
      if (c.failure) {
        // Text that came with the failing final is still the client's.
        if (!u.text.empty()) out += chunk(u.index, u.text, nullptr);
        break;
      }
      if (!u.text.empty() || u.final_info) {
        out += chunk(u.index, u.text, u.final_info ? &c.choices[u.index].end : nullptr);
      }
    }
    if (!c.failure && c.all_done()) {
      c.usage.prompt_tokens = c.prompt_tokens;
      if (c.request.options.include_usage) {
        out += sse_event(c.chat ? chat_usage_chunk_json(c.ids, c.usage)
                                : usage_chunk_json(c.ids, c.usage));
      }
      out += kSseDone;
      finished_ = true;
    } else if (!c.failure) {
      Connection* conn = current_connection();
      if (conn && conn->peer_closed()) {
        client_gone();
        return false;
      }
      if (c.ctx.stopping())
        c.failure = shutting_down();
      else if (SteadyClock::now() >= c.deadline)
        c.failure = deadline_passed(c);
    }
    if (c.failure) {
      // An error mid-stream is the stream's last event.
      c.cancel_unfinished();
      out += sse_event(error_json(*c.failure));
      finished_ = true;
    }
    if (!out.empty() && !sink.write(out.data(), out.size())) {
      client_gone();
      return false;
    }
    if (finished_) {
      c.log_finished(c.failure ? c.failure->http_status : 200);
      sink.done();
    }
    return true;
  }

  // The response is gone (sent, or the connection failed).
  void release() {
    if (!finished_) client_gone();
  }

 private:
  std::string chunk(size_t index, std::string_view text, const ChoiceEnd* end) {
    if (c_->chat) {
      return sse_event(chat_chunk_json(c_->ids, static_cast<int64_t>(index), false, text, end,
                                       c_->request.options.include_usage));
    }
    return sse_event(completion_chunk_json(c_->ids, static_cast<int64_t>(index), text, end,
                                           c_->request.options.include_usage));
  }
  void client_gone() {
    if (finished_) return;
    finished_ = true;
    c_->cancel_unfinished();
    c_->failure =
        http_error(499, "invalid_request_error", "client_closed", "client closed the connection");
    c_->log_finished(499);
  }

  std::unique_ptr<Completion> c_;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace

void write_error(ServerContext& ctx, httplib::Response& res, const ApiError& e) {
  res.status = e.http_status;
  res.set_content(error_json(e), std::string(kJsonType));
  if (e.retry_after_seconds > 0)
    res.set_header("Retry-After", std::to_string(e.retry_after_seconds));
  if (e.retry_after_ms > 0) res.set_header("retry-after-ms", std::to_string(e.retry_after_ms));
  if (ctx.metrics) ctx.metrics->on_rejected(e.code);
}

namespace {

void serve(ServerContext& ctx, const std::string& request_id, const std::string& body,
           httplib::Response& res, bool chat) {
  auto c = std::make_unique<Completion>(ctx, request_id);
  // OpenAI's ids: "cmpl-…" for completions, "chatcmpl-…" for chat.
  c->ids.id = chat ? "chat" + request_id : request_id;
  c->ids.model = ctx.model.name;
  c->ids.created_unix_seconds = static_cast<int64_t>(std::time(nullptr));
  std::optional<ApiError> error = chat ? prepare_chat(*c, body) : prepare(*c, body);
  if (!error) error = submit_all(*c);
  if (error) {
    write_error(ctx, res, *error);
    log_rejected(request_id, *error);
    return;
  }
  if (!c->request.options.stream) {
    respond_blocking(*c, res);
    return;
  }
  auto writer = std::make_shared<StreamWriter>(std::move(c));
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [writer](size_t, httplib::DataSink& sink) { return writer->provide(sink); },
      [writer](bool) { writer->release(); });
}

}  // namespace

void handle_completion(ServerContext& ctx, const std::string& request_id, const std::string& body,
                       httplib::Response& res) {
  serve(ctx, request_id, body, res, /*chat=*/false);
}

void handle_chat_completion(ServerContext& ctx, const std::string& request_id,
                            const std::string& body, httplib::Response& res) {
  serve(ctx, request_id, body, res, /*chat=*/true);
}

}  // namespace keel::server
