// Raw-socket HTTP/1.1 client helpers and a server fixture for the server
// tests. Every read has a deadline; nothing here can hang a test.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fake_engine.h"
#include "keel/server/http_server.h"

namespace keel::server::testing {

using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// One client connection with bounded reads.
class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Appends what arrives within `timeout` (returns early on any data).
  // False on EOF or error.
  bool read_some(std::string& out, std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return true;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    out.append(buf, static_cast<size_t>(n));
    return true;
  }
  // Reads until `done(data)` or EOF or the deadline; returns the data.
  template <typename Pred>
  std::string read_until(Pred done, std::chrono::milliseconds timeout) {
    auto until = SteadyClock::now() + timeout;
    while (!done(data_) && SteadyClock::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      if (!read_some(data_, std::max(left, std::chrono::milliseconds(1)))) {
        eof_ = true;
        break;
      }
    }
    return data_;
  }
  std::string read_to_eof(std::chrono::milliseconds timeout) {
    return read_until([this](const std::string&) { return eof_; }, timeout);
  }
  bool eof() const { return eof_; }
  const std::string& data() const { return data_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string data_;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  std::string raw;
  Json json() const { return Json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

inline std::string dechunk(std::string_view s) {
  std::string out;
  while (!s.empty()) {
    size_t eol = s.find("\r\n");
    if (eol == std::string_view::npos) break;
    size_t len = std::stoul(std::string(s.substr(0, eol)), nullptr, 16);
    s.remove_prefix(eol + 2);
    if (len == 0 || s.size() < len) break;
    out.append(s.substr(0, len));
    s.remove_prefix(std::min(s.size(), len + 2));
  }
  return out;
}

inline HttpResponse parse_response(const std::string& raw) {
  HttpResponse r;
  r.raw = raw;
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.size() < 12) return r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    size_t eol = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, eol - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    pos = eol + 2;
  }
  std::string body = raw.substr(head_end + 4);
  r.body = r.header("transfer-encoding") == "chunked" ? dechunk(body) : body;
  return r;
}

inline std::string build_request(const std::string& method, const std::string& path,
                                 const std::string& body,
                                 const std::vector<std::string>& extra_headers = {},
                                 bool close = true) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (close) req += "Connection: close\r\n";
  for (const auto& h : extra_headers) req += h + "\r\n";
  if (method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  return req;
}

// The default client bound on one request: 20 s, 10x in sanitizer builds
// (TSan generated a 511-token completion in just over 20 s).
#ifdef KEEL_SANITIZED
inline constexpr std::chrono::milliseconds kHttpTimeout = std::chrono::seconds(200);
#else
inline constexpr std::chrono::milliseconds kHttpTimeout = std::chrono::seconds(20);
#endif

// One request on a fresh connection (Connection: close), read to EOF.
inline HttpResponse http(int port, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::vector<std::string>& headers = {},
                         std::chrono::milliseconds timeout = kHttpTimeout) {
  RawConn c(port);
  if (!c.connected() || !c.send(build_request(method, path, body, headers))) return {};
  return parse_response(c.read_to_eof(timeout));
}

// The payloads of "data: ..." SSE events.
inline std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

// POSTs `body` to `path` on a fresh connection and reads an SSE stream
// until "data: [DONE]" or `timeout`; returns the JSON events in order
// (malformed ones skipped) and sets *done when [DONE] arrived.
inline std::vector<Json> stream_events(int port, const std::string& path, const Json& body,
                                       std::chrono::milliseconds timeout, bool* done) {
  *done = false;
  std::vector<Json> events;
  RawConn c(port);
  if (!c.connected()) return events;
  c.send(build_request("POST", path, body.dump(), {}));
  std::string raw = c.read_until(
      [](const std::string& d) { return d.find("data: [DONE]") != std::string::npos; }, timeout);
  for (const std::string& p : sse_payloads(parse_response(raw).body)) {
    if (p == "[DONE]") {
      *done = true;
      continue;
    }
    Json j = Json::parse(p, nullptr, false);
    if (!j.is_discarded()) events.push_back(std::move(j));
  }
  return events;
}

inline ServerConfig test_config() {
  ServerConfig c;
  c.api_key = "";
  c.max_body_bytes = 64 * 1024;
  c.read_timeout = std::chrono::milliseconds(2000);
  c.request_read_timeout = std::chrono::milliseconds(1500);
  c.write_timeout = std::chrono::milliseconds(2000);
  c.keep_alive_timeout = std::chrono::milliseconds(2000);
  c.shutdown_grace = std::chrono::milliseconds(500);
  c.shutdown_timeout = std::chrono::milliseconds(3000);
  c.final_grace = std::chrono::milliseconds(500);
  return c;
}

// A server on an ephemeral port over a FakeEngine.
class ServerTest : public ::testing::Test {
 protected:
  void start(ServerConfig config = test_config()) {
    engine_ = std::make_shared<FakeEngine>();
    auto s = HttpServer::create(engine_, std::move(config));
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(s).value();
    Status st = server_->start("127.0.0.1", 0);
    ASSERT_TRUE(st.ok()) << st.to_string();
    port_ = server_->port();
  }
  void SetUp() override { start(); }
  void restart(ServerConfig config) {
    if (server_) {
      EXPECT_TRUE(server_->stop().ok());
    }
    server_.reset();
    start(std::move(config));
  }
  void TearDown() override {
    if (server_) {
      EXPECT_TRUE(server_->stop().ok());
    }
  }
  HttpResponse post(const std::string& path, const Json& body,
                    const std::vector<std::string>& headers = {}) {
    return http(port_, "POST", path, body.dump(), headers);
  }
  HttpResponse complete(const Json& body) { return post("/v1/completions", body); }

  std::shared_ptr<FakeEngine> engine_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

}  // namespace keel::server::testing
