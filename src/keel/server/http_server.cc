#include "keel/server/http_server.h"

#include <fmt/format.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "keel/core/logging.h"
#include "keel/server/completion_handler.h"
#include "keel/server/http_transport.h"
#include "keel/server/metrics.h"
#include "keel/server/openai_response.h"
#include "keel/server/server_metrics.h"

namespace keel::server {
namespace {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;
using json = nlohmann::json;

std::string_view route_label(const std::string& path) {
  static constexpr std::string_view kRoutes[] = {
      "/health", "/ready", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions"};
  for (std::string_view r : kRoutes) {
    if (path == r) return r;
  }
  if (path.starts_with("/v1/models/")) return "/v1/models/{id}";
  return "other";
}

// Constant-time comparison (the API key must not leak through timing).
bool equal_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

// Ends the connection after this response (its request was not fully read).
void close_after(Response& res) {
  if (Connection* conn = current_connection()) conn->close_after_response();
  res.set_header("Connection", "close");
}

void json_reply(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                  std::string(kJsonType));
}

Status validate(const ServerConfig& c) {
  using std::chrono::milliseconds;
  if (c.max_body_bytes == 0) return InvalidArgumentError("max_body_bytes must be > 0");
  if (c.max_header_bytes < 256) return InvalidArgumentError("max_header_bytes must be >= 256");
  if (c.max_connections < 1) return InvalidArgumentError("max_connections must be >= 1");
  if (c.max_n < 1) return InvalidArgumentError("max_n must be >= 1");
  if (c.max_prompts < 1 || c.max_choices < 1) {
    return InvalidArgumentError("max_prompts and max_choices must be >= 1");
  }
  for (auto [name, v] : {std::pair{"read_timeout", c.read_timeout},
                         {"request_read_timeout", c.request_read_timeout},
                         {"write_timeout", c.write_timeout},
                         {"keep_alive_timeout", c.keep_alive_timeout},
                         {"default_request_deadline", c.default_request_deadline},
                         {"disconnect_poll", c.disconnect_poll},
                         {"max_heartbeat_age", c.max_heartbeat_age},
                         {"shutdown_timeout", c.shutdown_timeout}}) {
    if (v <= milliseconds(0)) return InvalidArgumentError("{} must be > 0 ms", name);
  }
  if (!(c.max_request_timeout_seconds > 0)) {
    return InvalidArgumentError("max_request_timeout_seconds must be > 0");
  }
  return OkStatus();
}

}  // namespace

struct HttpServer::Impl {
  ServerContext ctx;
  std::string api_key;
  std::unique_ptr<HttpTransport> transport;
  int port = -1;
  bool stopped = false;
  uint64_t id_salt = 0;
  std::atomic<uint64_t> next_id{1};

  std::string new_request_id() {
    // splitmix64 of a per-process salt and a counter: unique, unguessable-ish.
    uint64_t z = id_salt + next_id.fetch_add(1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return fmt::format("cmpl-{:016x}", z);
  }

  HandlerResponse pre_route(const Request& req, Response& res);
  void fill_error(const Request& req, Response& res);
  void health(Response& res);
  void ready(Response& res);
  void install_routes();
};

HandlerResponse HttpServer::Impl::pre_route(const Request& req, Response& res) {
  res.set_header(std::string(kRequestIdHeader), new_request_id());
  // An answer before the body is read must close the connection, or the
  // unread body would be parsed as the next request.
  auto answer_early = [&](const ApiError& e) {
    if (req.method != "GET" && req.method != "HEAD") close_after(res);
    write_error(ctx, res, e);
    return HandlerResponse::Handled;
  };
  if (req.path.starts_with("/v1/") && !api_key.empty()) {
    std::string auth = req.get_header_value("Authorization");
    if (!equal_secret(auth, "Bearer " + api_key)) {
      res.set_header("WWW-Authenticate", "Bearer");
      return answer_early(http_error(401, "authentication_error", "invalid_api_key",
                                     auth.empty()
                                         ? "missing API key: send \"Authorization: Bearer <key>\""
                                         : "invalid API key"));
    }
  }
  if (req.method != "POST") return HandlerResponse::Unhandled;
  if (req.has_header("Content-Length")) {
    const std::string v = req.get_header_value("Content-Length");
    char* end = nullptr;
    unsigned long long len = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0') {
      return answer_early(http_error(400, "invalid_request_error", "bad_content_length",
                                     fmt::format("Content-Length \"{}\" is not a number", v)));
    }
    if (len > ctx.config.max_body_bytes) {
      return answer_early(
          http_error(413, "invalid_request_error", "body_too_large",
                     fmt::format("request body of {} bytes exceeds the limit of {} bytes", len,
                                 ctx.config.max_body_bytes)));
    }
  } else if (req.get_header_value("Transfer-Encoding").find("chunked") == std::string::npos) {
    return answer_early(http_error(411, "invalid_request_error", "length_required",
                                   "POST needs a body with Content-Length (or chunked)"));
  }
  return HandlerResponse::Unhandled;
}

void HttpServer::Impl::fill_error(const Request& req, Response& res) {
  if (!res.body.empty()) return;  // a handler's own error
  Connection* conn = current_connection();
  ApiError e;
  if (conn && conn->header_too_large()) {
    e = http_error(
        431, "invalid_request_error", "headers_too_large",
        fmt::format("request line and headers exceed {} bytes", ctx.config.max_header_bytes));
  } else if (conn && conn->read_timed_out()) {
    e = http_error(
        408, "invalid_request_error", "request_timeout",
        fmt::format("the request was not received in time (a read waits at most "
                    "{} ms, the whole request {} ms)",
                    ctx.config.read_timeout.count(), ctx.config.request_read_timeout.count()));
  } else if (res.status == 404) {
    e = http_error(404, "not_found_error", "unknown_route",
                   fmt::format("no route for {} {}; routes: GET /health /ready /metrics "
                               "/v1/models, POST /v1/completions /v1/chat/completions",
                               req.method, req.path));
  } else if (res.status == 413) {
    e = http_error(
        413, "invalid_request_error", "body_too_large",
        fmt::format("request body exceeds the limit of {} bytes", ctx.config.max_body_bytes));
  } else if (res.status == 414) {
    e = http_error(414, "invalid_request_error", "uri_too_long", "request URI too long");
  } else if (res.status == 400) {
    e = http_error(400, "invalid_request_error", "malformed_http", "malformed HTTP request");
  } else {
    e = http_error(res.status, res.status >= 500 ? "server_error" : "invalid_request_error",
                   "http_error", fmt::format("HTTP {}", res.status));
  }
  if (e.http_status == 431 || e.http_status == 408 || e.http_status == 413) close_after(res);
  write_error(ctx, res, e);
}

void HttpServer::Impl::health(Response& res) {
  EngineSnapshot s = ctx.engine->snapshot();
  if (!s.heartbeat_age) {
    json_reply(res, 503, {{"status", "starting"}, {"reason", "the engine loop has not started"}});
    return;
  }
  const int64_t age_ms = s.heartbeat_age->count();
  if (!s.unhealthy_reason.empty()) {
    json_reply(res, 503,
               {{"status", "unhealthy"}, {"reason", s.unhealthy_reason}, {"heartbeat_age_ms", age_ms}});
    return;
  }
  if (*s.heartbeat_age > ctx.config.max_heartbeat_age) {
    json_reply(res, 503,
               {{"status", "unhealthy"},
                {"reason", fmt::format("the engine loop has made no progress for {} ms (limit "
                                       "{} ms)",
                                       age_ms, ctx.config.max_heartbeat_age.count())},
                {"heartbeat_age_ms", age_ms}});
    return;
  }
  json_reply(res, 200, {{"status", "ok"}, {"heartbeat_age_ms", age_ms}});
}

void HttpServer::Impl::ready(Response& res) {
  EngineSnapshot s = ctx.engine->snapshot();
  std::string reason;
  if (ctx.stopping()) {
    reason = "the server is shutting down";
  } else if (!s.ready) {
    reason = s.not_ready_reason.empty() ? "the engine is not ready" : s.not_ready_reason;
  } else if (!s.heartbeat_age || *s.heartbeat_age > ctx.config.max_heartbeat_age) {
    reason = "the engine loop is not making progress (see /health)";
  }
  if (!reason.empty()) {
    res.set_header("Retry-After", std::to_string(std::max<int64_t>(1, s.retry_after_seconds)));
    json_reply(res, 503, {{"status", "not_ready"}, {"reason", reason}});
    return;
  }
  if (!s.degraded_reason.empty()) {
    json_reply(res, 200,
               {{"status", "degraded"}, {"reason", s.degraded_reason}, {"model", ctx.model.name}});
    return;
  }
  json_reply(res, 200, {{"status", "ready"}, {"model", ctx.model.name}});
}

void HttpServer::Impl::install_routes() {
  HttpTransport& t = *transport;
  t.set_pre_routing_handler(httplib::Server::HandlerWithResponse(
      [this](const Request& req, Response& res) { return pre_route(req, res); }));
  t.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
        fill_error(req, res);
        return HandlerResponse::Handled;
      }));
  t.set_exception_handler([this](const Request& req, Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    std::string rid = res.get_header_value(std::string(kRequestIdHeader));
    KEEL_LOG_ERROR("request failed id={} path={} exception=\"{}\"", rid, req.path, what);
    res.body.clear();
    write_error(ctx, res,
                http_error(500, "server_error", "internal_error",
                           fmt::format("internal error (request id {})", rid)));
  });
  t.set_logger([this](const Request& req, const Response& res) {
    ctx.metrics->on_http_response(route_label(req.path), res.status);
  });

  t.Get("/health", [this](const Request&, Response& res) { health(res); });
  t.Get("/ready", [this](const Request&, Response& res) { ready(res); });
  t.Get("/metrics", [this](const Request&, Response& res) {
    res.set_content(ctx.metrics->render(ctx.engine->snapshot(), transport->open_connections()),
                    std::string(metrics::kContentType));
  });
  t.Get("/v1/models", [this](const Request&, Response& res) {
    res.set_content(model_list_json(ctx.model), std::string(kJsonType));
  });
  t.Get(R"(/v1/models/(.+))", [this](const Request& req, Response& res) {
    if (req.matches.size() > 1 && req.matches[1].str() == ctx.model.name) {
      res.set_content(model_json(ctx.model), std::string(kJsonType));
      return;
    }
    ApiError e =
        http_error(404, "not_found_error", "model_not_found",
                   fmt::format("model \"{}\" does not exist; this server serves \"{}\"",
                               req.matches.size() > 1 ? req.matches[1].str() : "", ctx.model.name));
    e.param = "model";
    write_error(ctx, res, e);
  });
  auto read_body = [this](const httplib::ContentReader& reader, Response& res, std::string& body) {
    bool too_large = false;
    bool ok = reader([&](const char* data, size_t n) {
      if (body.size() + n > ctx.config.max_body_bytes) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (ok) return true;
    Connection* conn = current_connection();
    close_after(res);
    if (too_large || res.status == 413) {
      write_error(ctx, res,
                  http_error(413, "invalid_request_error", "body_too_large",
                             fmt::format("request body exceeds the limit of {} bytes",
                                         ctx.config.max_body_bytes)));
    } else if (conn && conn->read_timed_out()) {
      write_error(ctx, res,
                  http_error(408, "invalid_request_error", "request_timeout",
                             "the request body was not received in time"));
    } else {
      write_error(ctx, res,
                  http_error(400, "invalid_request_error", "bad_body",
                             "the request body could not be read"));
    }
    return false;
  };
  t.Post("/v1/completions",
         [this, read_body](const Request&, Response& res, const httplib::ContentReader& reader) {
           std::string body;
           if (!read_body(reader, res, body)) return;
           handle_completion(ctx, res.get_header_value(std::string(kRequestIdHeader)), body, res);
         });
  t.Post("/v1/chat/completions",
         [this, read_body](const Request&, Response& res, const httplib::ContentReader& reader) {
           std::string body;
           if (!read_body(reader, res, body)) return;
           handle_chat_completion(ctx, res.get_header_value(std::string(kRequestIdHeader)), body,
                                  res);
         });
  for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
    t.Get(path, [this](const Request& req, Response& res) {
      res.set_header("Allow", "POST");
      write_error(ctx, res,
                  http_error(405, "invalid_request_error", "method_not_allowed",
                             fmt::format("{} needs POST", req.path)));
    });
  }
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(std::shared_ptr<EngineInterface> engine,
                                                       ServerConfig config) {
  if (!engine) return InvalidArgumentError("HttpServer needs an engine");
  KEEL_RETURN_IF_ERROR(validate(config));
  auto impl = std::make_unique<Impl>();
  impl->ctx.model = engine->model_info();
  if (impl->ctx.model.vocab_size <= 0 || impl->ctx.model.name.empty()) {
    return InvalidArgumentError("the engine reports no model (name \"{}\", vocab_size {})",
                                impl->ctx.model.name, impl->ctx.model.vocab_size);
  }
  if (config.api_key) {
    impl->api_key = *config.api_key;
  } else if (const char* env = std::getenv("KEEL_API_KEY")) {
    impl->api_key = env;
  }
  impl->ctx.engine = std::move(engine);
  impl->ctx.metrics = std::make_shared<ServerMetrics>();
  impl->ctx.config = std::move(config);
  impl->id_salt = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), metrics_(impl_->ctx.metrics) {}

HttpServer::~HttpServer() {
  if (impl_ && impl_->transport && !impl_->stopped) (void)stop();
}

Status HttpServer::start(const std::string& host, int port) {
  if (!impl_ || impl_->transport) return FailedPreconditionError("the server was already started");
  const ServerConfig& c = impl_->ctx.config;
  TransportConfig tc;
  tc.max_connections = c.max_connections;
  tc.read_timeout = c.read_timeout;
  tc.request_read_timeout = c.request_read_timeout;
  tc.write_timeout = c.write_timeout;
  tc.keep_alive_timeout = c.keep_alive_timeout;
  tc.max_header_bytes = c.max_header_bytes;
  tc.max_body_bytes = c.max_body_bytes;
  std::shared_ptr<ServerMetrics> m = impl_->ctx.metrics;
  tc.on_rejected = [m](std::string_view reason) { m->on_rejected(reason); };
  impl_->transport = std::make_unique<HttpTransport>(std::move(tc));
  impl_->ctx.transport = impl_->transport.get();
  impl_->install_routes();
  Result<int> bound = impl_->transport->bind(host, port);
  if (!bound.ok()) {
    impl_->stopped = true;
    return bound.status();
  }
  impl_->port = *bound;
  Status s = impl_->transport->start_listening(Deadline::after(std::chrono::seconds(5)));
  if (!s.ok()) {
    (void)stop();
    return s;
  }
  bool loopback = host == "127.0.0.1" || host == "localhost" || host == "::1";
  KEEL_LOG_INFO("serving model={} on http://{}:{} api_key={}", impl_->ctx.model.name, host,
                impl_->port, impl_->api_key.empty() ? "none" : "required");
  if (!loopback && impl_->api_key.empty()) {
    KEEL_LOG_WARN("listening on {} without an API key: anyone who can reach it can use it", host);
  }
  return OkStatus();
}

int HttpServer::port() const { return impl_ ? impl_->port : -1; }

Status HttpServer::stop() {
  if (!impl_ || !impl_->transport || impl_->stopped) return OkStatus();
  impl_->stopped = true;
  impl_->ctx.draining.store(true);
  Status s = impl_->transport->stop(Deadline::after(impl_->ctx.config.shutdown_timeout),
                                    impl_->ctx.config.shutdown_grace);
  if (!s.ok()) {
    // Threads may still use the transport and the context: leak them
    // rather than free memory under a running thread.
    KEEL_LOG_ERROR("http: {}; leaking the server state", s.to_string());
    (void)impl_.release();
    return s;
  }
  KEEL_LOG_INFO("http: stopped");
  return OkStatus();
}

ServerMetrics& HttpServer::metrics() { return *metrics_; }

}  // namespace keel::server
