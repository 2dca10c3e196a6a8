// Incremental parsers for keel_load_bench's HTTP client: an HTTP/1.1
// response (status line, headers, then the body by Content-Length, chunked
// transfer coding, or until EOF) and an SSE body split into "data:" payloads.
//
// Contract: pure byte parsers, no I/O and no clock. Bytes may arrive in any
// split; each call buffers what it cannot use yet. A malformed response makes
// ResponseParser::feed() return false with error() set; lines are bounded, so
// a peer cannot grow the buffer without limit before the body starts.
// Thread-safety: none; one parser per exchange, used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace keel::load_bench {

class ResponseParser {
 public:
  using BodySink = std::function<void(std::string_view)>;

  // Consumes `in`; decoded body bytes go to on_body. False on a malformed
  // response (error() says why).
  bool feed(std::string_view in, const BodySink& on_body);

  // The peer closed the connection: completes an until-EOF body.
  void on_eof() {
    if (state_ == State::kUntilClose) state_ = State::kDone;
  }

  bool done() const { return state_ == State::kDone; }
  // The server ends the connection after this response ("Connection: close",
  // HTTP/1.0, or a body delimited by the close).
  bool connection_close() const { return close_; }
  // Retry-After in seconds (delta-seconds form; "retry-after-ms" wins, as in
  // the OpenAI clients), or < 0 when absent or not a number.
  double retry_after_s() const { return retry_after_s_; }
  bool head_done() const { return state_ != State::kHead; }
  int status() const { return status_; }
  const std::string& error() const { return error_; }

 private:
  enum class State { kHead, kChunkSize, kChunkData, kChunkEnd, kTrailer, kLength, kUntilClose, kDone };
  static constexpr size_t kMaxLine = 4096;

  void fail(std::string why) {
    ok_ = false;
    error_ = std::move(why);
  }

  void parse_head(std::string_view head);

  State state_ = State::kHead;
  std::string buf_;
  uint64_t left_ = 0;
  int status_ = 0;
  bool close_ = false;
  double retry_after_s_ = -1;
  bool ok_ = true;
  std::string error_;
};

// Splits an SSE body into "data:" payloads (keel sends one data line per
// event; other fields are ignored).
class SseParser {
 public:
  void feed(std::string_view bytes, const std::function<void(std::string_view)>& on_data);

 private:
  std::string buf_;
};

}  // namespace keel::load_bench
