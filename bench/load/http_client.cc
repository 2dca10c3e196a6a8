// See http_client.h.
#include "load/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <vector>

#include "load/http_parsers.h"

namespace keel::load_bench {
namespace {

// The port of a URL (same rule as the command line's integers).
bool parse_int(std::string_view s, int64_t& out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

// Milliseconds to the deadline for poll(): 0 when past it.
int poll_timeout_ms(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const int64_t ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 1'000'000));
}

// Waits for `events` on fd until the deadline: kOk, kTimeout or kError.
Io wait_for(int fd, short events, Clock::time_point deadline, std::string& err) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int timeout = poll_timeout_ms(deadline);
    const int rc = ::poll(&p, 1, timeout);
    if (rc > 0) return Io::kOk;  // readiness or POLLERR/POLLHUP: the next call says which
    if (rc == 0) {
      if (Clock::now() >= deadline) return Io::kTimeout;
      continue;
    }
    if (errno == EINTR) continue;
    err = std::string("poll: ") + std::strerror(errno);
    return Io::kError;
  }
}

Io connect_to(const Endpoint& ep, Clock::time_point deadline, Connection& s, std::string& err) {
  const int fd = ::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::string("socket: ") + std::strerror(errno);
    return Io::kError;
  }
  s.reset(fd);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len) == 0) {
    return Io::kOk;
  }
  if (errno != EINPROGRESS) {
    err = std::string("connect: ") + std::strerror(errno);
    return Io::kError;
  }
  const Io w = wait_for(fd, POLLOUT, deadline, err);
  if (w != Io::kOk) return w;
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
    err = std::string("connect: ") + std::strerror(so_error != 0 ? so_error : errno);
    return Io::kError;
  }
  return Io::kOk;
}

Io send_all(int fd, std::string_view data, Clock::time_point deadline, std::string& err) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const Io w = wait_for(fd, POLLOUT, deadline, err);
      if (w != Io::kOk) return w;
      continue;
    }
    err = std::string("send: ") + std::strerror(errno);
    return Io::kError;
  }
  return Io::kOk;
}

// Reads what is there (waiting until the deadline): kOk with n > 0, kClosed
// on EOF, kTimeout, kError.
Io recv_some(int fd, char* buf, size_t cap, size_t& n, Clock::time_point deadline,
             std::string& err) {
  for (;;) {
    const ssize_t r = ::recv(fd, buf, cap, 0);
    if (r > 0) {
      n = static_cast<size_t>(r);
      return Io::kOk;
    }
    if (r == 0) return Io::kClosed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const Io w = wait_for(fd, POLLIN, deadline, err);
      if (w != Io::kOk) return w;
      continue;
    }
    err = std::string("recv: ") + std::strerror(errno);
    return Io::kError;
  }
}

}  // namespace

bool resolve(const std::string& url, Endpoint& ep, std::string& err) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    err = "--url must start with http:// (got " + url + ")";
    return false;
  }
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) {
    err = "--url must be http://host:port without a path (got " + url + ")";
    return false;
  }
  std::string host = rest;
  std::string port = "80";
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) {
      err = "bad IPv6 address in " + url;
      return false;
    }
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (const size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  int64_t port_number = 0;
  if (host.empty() || !parse_int(port, port_number) || port_number < 1 || port_number > 65535) {
    err = "--url must be http://host:port with a port in [1, 65535] (got " + url + ")";
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    err = "cannot resolve " + host + ":" + port + ": " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
  ep.addr_len = static_cast<socklen_t>(res->ai_addrlen);
  freeaddrinfo(res);
  ep.host_header = rest;
  return true;
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

ExchangeResult http_exchange(
    const Endpoint& ep, std::string_view request, Clock::time_point deadline,
    const std::function<void(int, std::string_view, Clock::time_point)>& on_body,
    Connection* conn) {
  Connection local;
  Connection& c = conn != nullptr ? *conn : local;
  std::vector<char> buf(64 * 1024);
  for (int attempt = 0;; ++attempt) {
    ExchangeResult r;
    const bool reused = c.is_open();
    // A kept-alive connection the server closed meanwhile fails before any
    // response byte: reopen once and resend (nothing was processed).
    const bool may_retry = reused && attempt == 0;
    if (!reused) {
      r.io = connect_to(ep, deadline, c, r.error);
      if (r.io != Io::kOk) {
        c.close();
        return r;
      }
    }
    r.io = send_all(c.fd(), request, deadline, r.error);
    if (r.io != Io::kOk) {
      c.close();
      if (may_retry && r.io == Io::kError) continue;
      return r;
    }
    ResponseParser parser;
    Clock::time_point t{};
    const ResponseParser::BodySink sink = [&](std::string_view bytes) {
      on_body(parser.status(), bytes, t);
    };
    bool any_byte = false;
    bool retry = false;
    while (!parser.done()) {
      size_t n = 0;
      const Io io = recv_some(c.fd(), buf.data(), buf.size(), n, deadline, r.error);
      t = Clock::now();
      if (io == Io::kClosed || (io == Io::kError && !any_byte && may_retry)) {
        parser.on_eof();
        if (parser.done()) break;
        c.close();
        if (!any_byte && may_retry) {
          retry = true;
          break;
        }
        r.io = Io::kError;
        r.status = parser.status();
        r.error = parser.head_done() ? "connection closed before the end of the response"
                                     : "connection closed before a response";
        return r;
      }
      if (io != Io::kOk) {
        c.close();
        r.io = io;
        r.status = parser.status();
        return r;
      }
      any_byte = true;
      if (!parser.feed(std::string_view(buf.data(), n), sink)) {
        c.close();
        r.io = Io::kError;
        r.status = parser.status();
        r.error = "malformed response: " + parser.error();
        return r;
      }
    }
    if (retry) continue;
    if (conn == nullptr || parser.connection_close()) c.close();
    r.status = parser.status();
    r.retry_after_s = parser.retry_after_s();
    r.error.clear();
    return r;
  }
}

std::string make_request(const Endpoint& ep, std::string_view method, std::string_view path,
                         std::string_view body, bool keep_alive) {
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ");
  req.append(ep.host_header)
      .append(keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n");
  if (method == "POST") {
    req.append("Content-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: ");
    req.append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n").append(body);
  return req;
}


}  // namespace keel::load_bench
