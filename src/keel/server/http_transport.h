// HttpTransport: cpp-httplib's Server with keel's connection handling.
// Internal to the server module (it exposes httplib types).
//
// cpp-httplib parses requests and routes them; keel replaces three of its
// parts through its documented extension points:
// - the task queue (new_task_queue): one thread per open connection,
//   created on demand up to max_connections + kSpareThreads and retired
//   after idle_thread_ttl, so hundreds of streams never starve /health;
// - the per-connection loop (process_and_close_socket): keel's own Stream
//   reads and writes with poll() in 100 ms slices, so every wait is bounded
//   and notices a shutdown; it enforces the header-size limit, the
//   read timeout per wait, the whole-request read deadline (slow clients
//   cannot pin a thread) and the write timeout; it refuses connections over
//   max_connections with a 503; and it publishes the connection to the
//   handler's thread (current_connection()) so a handler can see that its
//   client went away while it waits on the engine;
// - the listen backlog (raised from httplib's 5).
// Thread-safety: configure before start(); stopping(), open_connections()
// and stop() are safe from any thread.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "keel/core/clock.h"
#include "keel/core/result.h"

namespace keel::server {

struct TransportConfig {
  int64_t max_connections = 1024;
  std::chrono::milliseconds read_timeout{10'000};          // longest wait for more request bytes
  std::chrono::milliseconds request_read_timeout{30'000};  // head + body of one request
  std::chrono::milliseconds write_timeout{10'000};         // longest wait for socket buffer room
  std::chrono::milliseconds keep_alive_timeout{5'000};     // idle wait for the next request
  int64_t keep_alive_max_requests = 1000;
  size_t max_header_bytes = 16 * 1024;  // request line + headers
  size_t max_body_bytes = 8 << 20;      // checked again by the handlers (413)
  int listen_backlog = 1024;
  std::chrono::milliseconds idle_thread_ttl{30'000};
  // Called when a connection is refused (reason "too_many_connections").
  std::function<void(std::string_view reason)> on_rejected;
};

class ConnStream;

// The connection a request arrived on, as its handler sees it. Only the
// handler's own thread may use it, and only during the request.
class Connection {
 public:
  // True when the client closed or reset the connection (checked without
  // consuming data: a pipelined next request does not count).
  bool peer_closed() const;
  // Close the connection after this response (e.g. the body was not read).
  void close_after_response() { close_after_response_ = true; }
  // What went wrong reading the current request, if anything.
  bool header_too_large() const;
  // A read waited read_timeout for bytes, or the whole request took longer
  // than request_read_timeout.
  bool read_timed_out() const;

 private:
  friend class HttpTransport;
  explicit Connection(int fd) : fd_(fd) {}
  int fd_;
  bool close_after_response_ = false;
  const ConnStream* stream_ = nullptr;
};

// The connection whose request this thread is handling, or nullptr.
Connection* current_connection();

class HttpTransport : public httplib::Server {
 public:
  explicit HttpTransport(TransportConfig config);
  ~HttpTransport() override;

  // Binds host:port (0: an ephemeral port). Returns the port.
  Result<int> bind(const std::string& host, int port);
  // Runs the accept loop on its own thread; returns once it accepts.
  Status start_listening(Deadline deadline);
  // Stops accepting, lets open requests end for up to `grace` (handlers
  // see stopping() and finish), then shuts down every remaining socket and
  // waits for the threads until `deadline`. DeadlineExceeded if threads are
  // still running then: the object must then be leaked, not destroyed.
  Status stop(Deadline deadline, std::chrono::milliseconds grace);

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  bool aborting() const { return aborting_.load(std::memory_order_acquire); }
  int64_t open_connections() const;
  const TransportConfig& config() const { return config_; }

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Serves requests on one accepted connection until it closes.
  void serve(Connection& conn, ConnStream& stream);
  bool register_fd(int fd);  // false: over max_connections
  void unregister_and_close(int fd, bool linger);
  void abort_all_connections();

  const TransportConfig config_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> aborting_{false};
  std::shared_ptr<std::atomic<int64_t>> shutdown_deadline_ns_;  // read by the task queue

  mutable std::mutex fds_mu_;
  std::condition_variable fds_cv_;
  std::unordered_set<int> fds_;  // guarded by fds_mu_

  std::thread listen_thread_;
  std::future<void> listen_done_;
};

}  // namespace keel::server
