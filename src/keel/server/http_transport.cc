#include "keel/server/http_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

#include "keel/core/check.h"
#include "keel/core/logging.h"
#include "keel/server/api_error.h"
#include "keel/server/openai_response.h"

namespace keel::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Longest single poll(): every wait notices a shutdown within this.
constexpr milliseconds kPollSlice{100};
// Threads beyond max_connections, to answer refused connections with 503.
constexpr int64_t kSpareThreads = 16;
// Framing overhead allowed on top of max_body_bytes (chunked encoding).
constexpr size_t kBodySlackBytes = 64 * 1024;

thread_local Connection* tls_connection = nullptr;

// Connection threads: one per open connection, created on demand, retired
// after an idle ttl. Workers own the shared state, so a worker still
// running after a timed-out shutdown touches no freed memory.
class ConnectionThreads final : public httplib::TaskQueue {
 public:
  ConnectionThreads(int64_t max_threads, milliseconds idle_ttl,
                    std::shared_ptr<std::atomic<int64_t>> shutdown_deadline_ns)
      : state_(std::make_shared<State>()),
        max_threads_(max_threads),
        idle_ttl_(idle_ttl),
        shutdown_deadline_ns_(std::move(shutdown_deadline_ns)) {}

  void enqueue(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->jobs.push_back(std::move(fn));
    if (state_->idle >= static_cast<int64_t>(state_->jobs.size())) {
      state_->cv.notify_one();
      return;
    }
    if (state_->live >= max_threads_) return;  // runs when a thread frees up
    try {
      std::thread(worker, state_, idle_ttl_).detach();
      ++state_->live;
    } catch (const std::system_error& e) {
      KEEL_LOG_ERROR("http: cannot start a connection thread ({}); {} threads serve", e.what(),
                     state_->live);
    }
  }

  void shutdown() override {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->shutdown = true;
    state_->cv.notify_all();
    Clock::time_point until{std::chrono::nanoseconds(shutdown_deadline_ns_->load())};
    if (!state_->exited.wait_until(lock, until, [this] { return state_->live == 0; })) {
      KEEL_LOG_ERROR("http: {} connection threads still running at the shutdown deadline",
                     state_->live);
    }
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::condition_variable exited;
    std::deque<std::function<void()>> jobs;
    int64_t idle = 0;
    int64_t live = 0;
    bool shutdown = false;
  };

  static void worker(std::shared_ptr<State> st, milliseconds idle_ttl) {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(st->mu);
        ++st->idle;
        st->cv.wait_for(lock, idle_ttl, [&] { return !st->jobs.empty() || st->shutdown; });
        --st->idle;
        if (st->jobs.empty()) {  // idle ttl passed, or shut down with nothing left
          --st->live;
          st->exited.notify_all();
          return;
        }
        job = std::move(st->jobs.front());
        st->jobs.pop_front();
      }
      job();
    }
  }

  std::shared_ptr<State> state_;
  const int64_t max_threads_;
  const milliseconds idle_ttl_;
  std::shared_ptr<std::atomic<int64_t>> shutdown_deadline_ns_;
};

bool poll_until(int fd, short events, Clock::time_point until, const HttpTransport& t,
                bool stop_on_stopping) {
  for (;;) {
    if (t.aborting() || (stop_on_stopping && t.stopping())) return false;
    auto now = Clock::now();
    if (now >= until) return false;
    auto slice = std::min<milliseconds>(
        kPollSlice, std::chrono::duration_cast<milliseconds>(until - now) + milliseconds(1));
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(slice.count()));
    if (r > 0) return true;  // ready, or an error/hangup the next call reports
    if (r < 0 && errno != EINTR) return false;
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  }
  ip = buf;
}

// Writes all of `data` or gives up at `until`.
void send_all(int fd, std::string_view data, Clock::time_point until, const HttpTransport& t) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!poll_until(fd, POLLOUT, until, t, false)) return;
    } else {
      return;
    }
  }
}

std::string canned_response(int status, std::string_view phrase, const ApiError& error) {
  std::string body = error_json(error);
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\n",
      status, phrase, body.size());
  if (error.retry_after_seconds > 0)
    out += fmt::format("Retry-After: {}\r\n", error.retry_after_seconds);
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace

// keel's httplib::Stream over one accepted socket: buffered reads, every
// wait a bounded poll, limits on the request head and body.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(int fd, const HttpTransport& t) : fd_(fd), t_(t), cfg_(t.config()) {}

  bool is_readable() const override {
    return begin_ < end_ ||
           poll_until(fd_, POLLIN, std::min(Clock::now() + cfg_.read_timeout, request_deadline_),
                      t_, false);
  }
  bool is_writable() const override {
    return poll_until(fd_, POLLOUT, Clock::now() + cfg_.write_timeout, t_, false);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (failed_) return -1;
    if (begin_ == end_) {
      // A client trickling bytes must not stretch the request forever.
      if (Clock::now() >= request_deadline_) {
        timed_out_ = true;
        failed_ = true;
        return -1;
      }
      auto until = std::min(Clock::now() + cfg_.read_timeout, request_deadline_);
      if (!poll_until(fd_, POLLIN, until, t_, false)) {
        timed_out_ = !t_.aborting();
        failed_ = true;
        return -1;
      }
      ssize_t n;
      do {
        n = ::recv(fd_, buf_, sizeof(buf_), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        failed_ = true;
        return n < 0 ? -1 : 0;
      }
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t k = std::min(size, end_ - begin_);
    if (!account(buf_ + begin_, k)) {
      failed_ = true;
      return -1;
    }
    std::memcpy(ptr, buf_ + begin_, k);
    begin_ += k;
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, size_t size) override {
    auto until = Clock::now() + cfg_.write_timeout;
    for (;;) {
      if (t_.aborting()) return -1;
      ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!poll_until(fd_, POLLOUT, until, t_, false)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, false, ip, port);
  }
  socket_t socket() const override { return fd_; }

  // True once request bytes are buffered or arrive within `timeout`;
  // false on timeout or shutdown.
  bool wait_for_request(milliseconds timeout) {
    return begin_ < end_ || poll_until(fd_, POLLIN, Clock::now() + timeout, t_, true);
  }
  void begin_request() {
    request_deadline_ = Clock::now() + cfg_.request_read_timeout;
    head_done_ = false;
    head_bytes_ = 0;
    body_bytes_ = 0;
    tail_ = 0;
    failed_ = header_too_large_ = timed_out_ = false;
  }
  bool failed() const { return failed_; }
  bool header_too_large() const { return header_too_large_; }
  // A read waited read_timeout, or the request_read_timeout passed.
  bool timed_out() const { return timed_out_; }

 private:
  // Counts consumed bytes against the head and body limits.
  bool account(const char* p, size_t n) {
    size_t i = 0;
    for (; i < n && !head_done_; ++i) {
      tail_ = (tail_ << 8) | static_cast<unsigned char>(p[i]);
      if (++head_bytes_ > cfg_.max_header_bytes) {
        header_too_large_ = true;
        return false;
      }
      if ((tail_ & 0xffffffffu) == 0x0d0a0d0au) head_done_ = true;
    }
    body_bytes_ += n - i;
    return body_bytes_ <= cfg_.max_body_bytes + kBodySlackBytes;
  }

  const int fd_;
  const HttpTransport& t_;
  const TransportConfig& cfg_;
  char buf_[4096];
  size_t begin_ = 0, end_ = 0;
  Clock::time_point request_deadline_ = Clock::time_point::max();
  bool head_done_ = false;
  size_t head_bytes_ = 0;
  size_t body_bytes_ = 0;
  uint64_t tail_ = 0;  // the last bytes consumed, for "\r\n\r\n"
  bool failed_ = false;
  bool header_too_large_ = false;
  bool timed_out_ = false;
};

Connection* current_connection() { return tls_connection; }

bool Connection::peer_closed() const {
  char b;
  ssize_t n = ::recv(fd_, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;
  if (n == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

bool Connection::header_too_large() const { return stream_ && stream_->header_too_large(); }
bool Connection::read_timed_out() const { return stream_ && stream_->timed_out(); }

HttpTransport::HttpTransport(TransportConfig config)
    : config_(std::move(config)), shutdown_deadline_ns_(std::make_shared<std::atomic<int64_t>>(0)) {
  auto secs = [](milliseconds ms) { return static_cast<time_t>((ms.count() + 999) / 1000); };
  set_read_timeout(secs(config_.read_timeout));
  set_write_timeout(secs(config_.write_timeout));
  set_keep_alive_timeout(secs(config_.keep_alive_timeout));
  set_keep_alive_max_count(static_cast<size_t>(config_.keep_alive_max_requests));
  set_payload_max_length(config_.max_body_bytes);
  set_tcp_nodelay(true);
  const int64_t max_threads = config_.max_connections + kSpareThreads;
  const milliseconds ttl = config_.idle_thread_ttl;
  auto deadline = shutdown_deadline_ns_;
  new_task_queue = [max_threads, ttl, deadline] {
    return new ConnectionThreads(max_threads, ttl, deadline);
  };
}

HttpTransport::~HttpTransport() {
  KEEL_CHECK(!listen_thread_.joinable()) << "HttpTransport destroyed while serving; stop() first";
}

Result<int> HttpTransport::bind(const std::string& host, int port) {
  int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return UnavailableError("cannot listen on {}:{} ({}); is the address valid and the port free?",
                            host, port, std::strerror(errno));
  }
  // httplib listens with a backlog of 5: too few for a burst of clients.
  if (::listen(svr_sock_, config_.listen_backlog) != 0) {
    KEEL_LOG_WARN("http: cannot raise the listen backlog to {}: {}", config_.listen_backlog,
                  std::strerror(errno));
  }
  return bound;
}

Status HttpTransport::start_listening(Deadline deadline) {
  std::promise<void> done;
  listen_done_ = done.get_future();
  listen_thread_ = std::thread([this, done = std::move(done)]() mutable {
    listen_after_bind();
    done.set_value();
  });
  while (!is_running()) {
    if (listen_done_.wait_for(milliseconds(1)) == std::future_status::ready) {
      listen_thread_.join();
      return InternalError("the HTTP accept loop ended as soon as it started");
    }
    if (deadline.expired()) {
      return DeadlineExceededError("the HTTP accept loop did not start in time");
    }
  }
  return OkStatus();
}

bool HttpTransport::register_fd(int fd) {
  std::lock_guard<std::mutex> lock(fds_mu_);
  if (static_cast<int64_t>(fds_.size()) >= config_.max_connections) return false;
  fds_.insert(fd);
  return true;
}

void HttpTransport::unregister_and_close(int fd, bool linger) {
  if (linger) {
    // Let the client read the response before a close with unread request
    // bytes turns into a reset: half-close, drain briefly, then close.
    ::shutdown(fd, SHUT_WR);
    auto until = Clock::now() + milliseconds(200);
    char sink[4096];
    size_t drained = 0;
    while (drained < (1u << 20) && poll_until(fd, POLLIN, until, *this, false)) {
      ssize_t n = ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
      if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
      if (n > 0) drained += static_cast<size_t>(n);
    }
  }
  {
    // Closed under the lock: abort_all_connections never shuts down a
    // reused descriptor.
    std::lock_guard<std::mutex> lock(fds_mu_);
    fds_.erase(fd);
    ::close(fd);
    // Under the lock: stop() may destroy this object once fds_ is empty.
    fds_cv_.notify_all();
  }
}

void HttpTransport::abort_all_connections() {
  aborting_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(fds_mu_);
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
}

int64_t HttpTransport::open_connections() const {
  std::lock_guard<std::mutex> lock(fds_mu_);
  return static_cast<int64_t>(fds_.size());
}

bool HttpTransport::process_and_close_socket(socket_t sock) {
  int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (!register_fd(sock)) {
    if (config_.on_rejected) config_.on_rejected("too_many_connections");
    ApiError e = http_error(503, "server_error", "too_many_connections",
                            fmt::format("the server has {} open connections, its limit; retry "
                                        "later",
                                        config_.max_connections));
    e.retry_after_seconds = 1;
    send_all(sock, canned_response(503, "Service Unavailable", e),
             Clock::now() + milliseconds(1000), *this);
    ::shutdown(sock, SHUT_WR);
    ::close(sock);
    return true;
  }
  Connection conn(sock);
  ConnStream stream(sock, *this);
  conn.stream_ = &stream;
  tls_connection = &conn;
  serve(conn, stream);
  tls_connection = nullptr;
  unregister_and_close(sock, conn.close_after_response_ && !aborting());
  return true;
}

void HttpTransport::serve(Connection& conn, ConnStream& stream) {
  bool first = true;
  for (int64_t served = 0; served < config_.keep_alive_max_requests; ++served) {
    if (!stream.wait_for_request(first ? config_.read_timeout : config_.keep_alive_timeout)) {
      return;
    }
    first = false;
    stream.begin_request();
    const bool last = stopping() || served + 1 >= config_.keep_alive_max_requests;
    bool closed = false;
    bool ok =
        process_request(stream, last, closed, [](httplib::Request& req) { req.ranges.clear(); });
    if (!ok || closed || last || conn.close_after_response_ || stream.failed()) return;
  }
}

Status HttpTransport::stop(Deadline deadline, milliseconds grace) {
  stopping_.store(true, std::memory_order_release);
  shutdown_deadline_ns_->store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.at().time_since_epoch())
          .count());
  // First let open requests see stopping() and end (streams send their
  // final event): httplib ends a chunked response without calling its
  // provider again once the listener is closed.
  {
    std::unique_lock<std::mutex> lock(fds_mu_);
    fds_cv_.wait_until(lock, std::min(Clock::now() + grace, deadline.at()),
                       [this] { return fds_.empty(); });
  }
  if (is_running()) {
    httplib::Server::stop();  // closes the listener; the accept loop then joins the threads
  } else if (svr_sock_ != INVALID_SOCKET) {
    ::close(svr_sock_.exchange(INVALID_SOCKET));  // bound, never served
  }
  if (open_connections() > 0) abort_all_connections();
  if (listen_thread_.joinable()) {
    if (listen_done_.wait_until(deadline.at()) != std::future_status::ready) {
      return DeadlineExceededError(
          "HTTP server threads still running at the shutdown deadline ({} connections open)",
          open_connections());
    }
    listen_thread_.join();
  }
  // Connection threads unregister before they finish; wait for the last.
  std::unique_lock<std::mutex> lock(fds_mu_);
  if (!fds_cv_.wait_until(lock, deadline.at(), [this] { return fds_.empty(); })) {
    return DeadlineExceededError("{} HTTP connections still open at the shutdown deadline",
                                 fds_.size());
  }
  return OkStatus();
}

}  // namespace keel::server

#if defined(__SANITIZE_THREAD__)
// Debian's cpp-httplib is not built with TSan. Its function-local statics
// (the chunked terminator string, the set of HTTP methods) are initialised
// under a guard whose acquire TSan cannot see in uninstrumented code, so
// their first concurrent uses are reported as races. Ignore what the library
// does through intercepted calls (memcpy, memcmp) and the terminator's send;
// keel's own accesses stay checked. Defined here, in an object every server
// binary links: an archive member holding only this weakly referenced
// symbol would not be linked.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libcpp-httplib.so\n"
         "race:httplib::detail::write_data\n";
}
#endif
