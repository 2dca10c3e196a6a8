// keel_load_bench's HTTP/1.1 client over raw POSIX sockets, http://host:port
// only (no TLS): one request at a time per connection, which is either fresh
// per request ("Connection: close") or kept open across requests (keep-alive,
// as the official OpenAI clients do) until the server closes it.
//
// Contract: every socket wait (connect, send, recv) is a poll() bounded by the
// caller's deadline (rounded up to the millisecond), so http_exchange()
// returns by then whatever the peer does; a request not finished by then is
// Io::kTimeout and its socket is closed. Failures are values (Io + message),
// never exceptions. SIGPIPE is avoided per send (MSG_NOSIGNAL).
// Thread-safety: the functions are reentrant and may run on many threads at
// once; an Endpoint is read-only after resolve() and may be shared.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace keel::load_bench {

using Clock = std::chrono::steady_clock;

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;  // "host:port"
};

// "http://host:port" (an optional trailing "/" is ignored; https is not
// supported). False with err set on a bad URL or an unresolvable host.
bool resolve(const std::string& url, Endpoint& ep, std::string& err);

enum class Io { kOk, kTimeout, kClosed, kError };

struct ExchangeResult {
  Io io = Io::kOk;  // kOk: a complete response; kTimeout: the deadline passed
  int status = 0;
  double retry_after_s = -1;  // the response's Retry-After, < 0 if none
  std::string error;
};

// A client's socket, kept open between requests when the server allows.
// Not thread-safe: one per client thread.
class Connection {
 public:
  Connection() = default;
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  void close();
  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Owns a newly opened socket (closing the previous one).
  void reset(int fd) {
    close();
    fd_ = fd;
    ++opened_;
  }
  // Connections opened so far (the first included).
  int64_t opened() const { return opened_; }

 private:
  int fd_ = -1;
  int64_t opened_ = 0;
};

// One request: connect (unless `conn` is open), send, read the whole
// response. on_body(status, bytes, time received) gets the decoded body.
// conn == nullptr: a fresh connection, closed after. Otherwise conn is used
// and left open after a complete response unless the server said
// "Connection: close"; a reused connection that the server had already
// closed (EOF or reset before any response byte) is reopened once.
ExchangeResult http_exchange(
    const Endpoint& ep, std::string_view request, Clock::time_point deadline,
    const std::function<void(int, std::string_view, Clock::time_point)>& on_body,
    Connection* conn = nullptr);

// The bytes of a request to ep; a POST carries a JSON body and accepts SSE.
// keep_alive: "Connection: keep-alive" instead of "Connection: close".
std::string make_request(const Endpoint& ep, std::string_view method, std::string_view path,
                         std::string_view body, bool keep_alive = false);

}  // namespace keel::load_bench
