// HttpServer: keel's OpenAI-compatible HTTP API over an EngineInterface.
//
// Routes
//   GET  /health               200 while the engine loop makes progress
//   GET  /ready                200 when the model is loaded and admission open
//   GET  /metrics              Prometheus text format 0.0.4
//   GET  /v1/models, /v1/models/{id}
//   POST /v1/completions       JSON or Server-Sent Events ("stream": true)
//   POST /v1/chat/completions  501 until chat templates land
// /v1/* needs "Authorization: Bearer <key>" when an API key is set.
//
// Lifecycle: create() → start(host, port) → ... → stop(). stop() is bounded
// by config.shutdown_timeout even with streams open: streams get a final
// SSE error event ("the server is shutting down") during
// config.shutdown_grace, then every socket is shut down. The destructor
// calls stop() if needed. README.md describes threads, waits and limits.
// Thread-safety: start/stop from one thread; port() and metrics() from any.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "keel/core/result.h"
#include "keel/server/engine_interface.h"

namespace keel::server {

class ServerMetrics;

struct ServerConfig {
  // nullopt: read KEEL_API_KEY (unset or empty: no key). "": no key.
  std::optional<std::string> api_key;

  // Limits.
  size_t max_body_bytes = 8 << 20;      // 413 above
  size_t max_header_bytes = 16 * 1024;  // request line + headers; 431 above
  int64_t max_connections = 1024;       // open connections (each holds a thread); 503 above
  int32_t max_n = 16;
  size_t max_stop = 16;
  size_t max_prompts = 64;
  int64_t max_choices = 64;  // prompts × n

  // Socket timeouts (slow or stalled clients cannot pin a thread longer).
  std::chrono::milliseconds read_timeout{10'000};          // per wait for request bytes
  std::chrono::milliseconds request_read_timeout{30'000};  // whole request head + body
  std::chrono::milliseconds write_timeout{10'000};         // per wait for send-buffer room
  std::chrono::milliseconds keep_alive_timeout{5'000};     // idle between requests

  // Requests.
  double max_request_timeout_seconds = 3600;  // upper bound of the "timeout" field
  // A request without "timeout" may run this long before the server gives
  // up on it (the engine has its own default, normally shorter).
  std::chrono::milliseconds default_request_deadline{3'600'000};
  // After a request's deadline, how long the engine gets to deliver the
  // final before the server cancels it and answers 504.
  std::chrono::milliseconds final_grace{10'000};
  // How often a waiting handler checks for a vanished client.
  std::chrono::milliseconds disconnect_poll{100};

  // /health: 503 when the engine heartbeat is older than this.
  std::chrono::milliseconds max_heartbeat_age{15'000};

  // Shutdown.
  std::chrono::milliseconds shutdown_grace{1'000};
  std::chrono::milliseconds shutdown_timeout{5'000};
};

class HttpServer {
 public:
  // InvalidArgument for a bad config.
  static Result<std::unique_ptr<HttpServer>> create(std::shared_ptr<EngineInterface> engine,
                                                    ServerConfig config);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on host:port (port 0: an ephemeral port, see port()) and serves
  // on background threads; returns once connections are accepted.
  // Unavailable if the address cannot be bound.
  Status start(const std::string& host = "127.0.0.1", int port = 8000);
  // The bound port, after start().
  int port() const;
  // Bounded shutdown (config.shutdown_timeout). DeadlineExceeded if some
  // thread did not finish: its state is then leaked, never freed under it.
  Status stop();

  ServerMetrics& metrics();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<ServerMetrics> metrics_;  // also valid after a leaked stop
};

}  // namespace keel::server
