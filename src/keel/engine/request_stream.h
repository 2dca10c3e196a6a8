// RequestSink: where the engine delivers one request's output.
// RequestStream: a RequestSink that a reader pulls from with deadlines (an
// HTTP thread, a test).
//
// RequestSink contract
// - The engine calls on_output() zero or more times, then on_final()
//   exactly once, last — after a normal finish, cancel, timeout, error or
//   shutdown alike. Calls come from the engine's step thread, one at a time.
// - Implementations must not block or throw (take a mutex held only for an
//   append, notify): the engine never waits on a client.
// - Text never ends inside a UTF-8 character.
//
// RequestStream contract
// - The engine never waits on a reader: outputs coalesce. Text and token ids
//   produced since the last read are appended to one pending RequestOutput,
//   so the channel holds at most one entry, whose size is bounded by the
//   request's max_new_tokens. A slow reader receives bigger deltas, never
//   blocks the engine.
// - The writer pushes deltas, then close() exactly once with the
//   RequestFinal; the read that returns the final output is the last one.
// - Every read wait takes a Deadline: next() returns DeadlineExceeded if
//   nothing arrived by then (the request goes on), and OutOfRange once the
//   final output has been read.
// Thread-safety: all methods are safe to call concurrently; one writer (the
// engine) and any number of readers (each read takes what is pending).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/engine/request.h"

namespace keel::engine {

class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // Text that became final with these generated ids (either may be empty,
  // not both).
  virtual void on_output(std::string_view text, std::span<const int32_t> token_ids) = 0;
  // Exactly once, after the last on_output().
  virtual void on_final(RequestFinal final_info) = 0;
};

class RequestStream final : public RequestSink {
 public:
  explicit RequestStream(std::string id) : id_(std::move(id)) {}
  RequestStream(const RequestStream&) = delete;
  RequestStream& operator=(const RequestStream&) = delete;

  const std::string& id() const { return id_; }

  // Reader side. Waits until output is pending or the deadline passes.
  Result<RequestOutput> next(Deadline deadline);
  // Reader side, no wait: what is pending, or nullopt.
  std::optional<RequestOutput> try_next();
  // Reader side: reads until the final output and returns everything
  // concatenated (with final_info). DeadlineExceeded if the request has not
  // ended by `deadline` (what was read so far is lost to the caller).
  Result<RequestOutput> collect(Deadline deadline);
  // True once the engine has closed the stream (the final may be unread).
  bool closed() const;

  // Writer side (the engine's step thread).
  void on_output(std::string_view text, std::span<const int32_t> token_ids) override;
  void on_final(RequestFinal final_info) override;

 private:
  std::optional<RequestOutput> take_locked();

  const std::string id_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  RequestOutput pending_;     // guarded by mu_
  bool has_pending_ = false;  // guarded by mu_
  bool closed_ = false;       // guarded by mu_
  bool final_read_ = false;   // guarded by mu_
};

}  // namespace keel::engine
