// keel_load_bench's HTTP/1.1 client: one request per fresh connection
// ("Connection: close") over raw POSIX sockets, http://host:port only (no TLS).
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
  std::string error;
};

// One request on a fresh connection: connect, send, read the whole response.
// on_body(status, bytes, time received) gets the decoded body.
ExchangeResult http_exchange(
    const Endpoint& ep, std::string_view request, Clock::time_point deadline,
    const std::function<void(int, std::string_view, Clock::time_point)>& on_body);

// The bytes of a request to ep; a POST carries a JSON body and accepts SSE.
std::string make_request(const Endpoint& ep, std::string_view method, std::string_view path,
                         std::string_view body);

}  // namespace keel::load_bench
