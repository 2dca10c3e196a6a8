// The /v1/completions and /v1/chat/completions handler and what it shares with the other routes.
// Internal to the server module (it uses httplib types).
//
// One HTTP request: parse → check the model → tokenize → submit one engine
// request per choice (prompts × n; if one is refused, the others are
// cancelled) → wait on the CompletionChannel in disconnect_poll slices:
// - non-streaming: until every choice's final, then one JSON response;
// - streaming: an SSE chunk per delta, a chunk with finish_reason per
//   choice, the usage chunk (stream_options.include_usage), "data: [DONE]".
// Between waits the handler checks, in this order: the client went away →
// cancel every choice; the server is stopping → cancel, 503 / final SSE
// error event; the request's deadline (+ final_grace) passed → cancel, 504
// / final SSE error event. A choice that ends with a non-OK status turns
// the whole request into that error (streaming: a final SSE error event).
// Every request ends with one INFO log line.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "keel/server/api_error.h"
#include "keel/server/engine_interface.h"
#include "keel/server/http_server.h"
#include "keel/server/http_transport.h"
#include "keel/server/server_metrics.h"

namespace keel::server {

// What the route handlers share. Lives as long as the transport serves.
struct ServerContext {
  std::shared_ptr<EngineInterface> engine;
  std::shared_ptr<ServerMetrics> metrics;
  ServerConfig config;
  ModelInfo model;
  const HttpTransport* transport = nullptr;
  std::atomic<bool> draining{false};

  bool stopping() const { return draining.load() || (transport && transport->stopping()); }
};

inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";
inline constexpr std::string_view kJsonType = "application/json";

// Sets status, body, Retry-After; counts the rejection.
void write_error(ServerContext& ctx, httplib::Response& res, const ApiError& error);

// POST /v1/completions with the body already read.
void handle_completion(ServerContext& ctx, const std::string& request_id, const std::string& body,
                       httplib::Response& res);

// POST /v1/chat/completions: the same path after the model's chat template
// rendered the messages (EngineInterface::render_chat) and tokenize_chat
// tokenized them; the end-of-turn ids (chat_stop_token_ids) stop every
// choice. Responses are "chat.completion" / "chat.completion.chunk" (the
// first chunk of each choice carries the assistant role).
void handle_chat_completion(ServerContext& ctx, const std::string& request_id,
                            const std::string& body, httplib::Response& res);

}  // namespace keel::server
