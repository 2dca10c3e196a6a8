// See http_parsers.h.
#include "load/http_parsers.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

namespace keel::load_bench {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool ResponseParser::feed(std::string_view in, const BodySink& on_body) {
  buf_.append(in.data(), in.size());
  size_t pos = 0;
  bool more = true;
  while (more && ok_ && state_ != State::kDone) {
    const std::string_view rest = std::string_view(buf_).substr(pos);
    switch (state_) {
      case State::kHead: {
        const size_t end = rest.find("\r\n\r\n");
        if (end == std::string_view::npos) {
          if (rest.size() > kMaxLine * 16) fail("response head too long");
          more = false;
          break;
        }
        parse_head(rest.substr(0, end));
        pos += end + 4;
        break;
      }
      case State::kChunkSize: {
        const size_t end = rest.find("\r\n");
        if (end == std::string_view::npos) {
          if (rest.size() > kMaxLine) fail("chunk size line too long");
          more = false;
          break;
        }
        std::string_view line = rest.substr(0, end);
        if (const size_t semi = line.find(';'); semi != std::string_view::npos) {
          line = line.substr(0, semi);
        }
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        uint64_t size = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
        if (ec != std::errc() || p != line.data() + line.size() || line.empty()) {
          fail("bad chunk size '" + std::string(line.substr(0, 32)) + "'");
          break;
        }
        pos += end + 2;
        left_ = size;
        state_ = size == 0 ? State::kTrailer : State::kChunkData;
        break;
      }
      case State::kChunkData:
      case State::kLength: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, rest.size()));
        if (n == 0) {
          more = false;
          break;
        }
        on_body(rest.substr(0, n));
        pos += n;
        left_ -= n;
        if (left_ == 0) state_ = state_ == State::kLength ? State::kDone : State::kChunkEnd;
        break;
      }
      case State::kChunkEnd: {
        if (rest.size() < 2) {
          more = false;
          break;
        }
        if (rest.substr(0, 2) != "\r\n") {
          fail("chunk not followed by CRLF");
          break;
        }
        pos += 2;
        state_ = State::kChunkSize;
        break;
      }
      case State::kTrailer: {
        const size_t end = rest.find("\r\n");
        if (end == std::string_view::npos) {
          if (rest.size() > kMaxLine) fail("trailer line too long");
          more = false;
          break;
        }
        pos += end + 2;
        if (end == 0) state_ = State::kDone;
        break;
      }
      case State::kUntilClose: {
        if (rest.empty()) {
          more = false;
          break;
        }
        on_body(rest);
        pos += rest.size();
        break;
      }
      case State::kDone:
        break;
    }
  }
  buf_.erase(0, pos);
  return ok_;
}

void ResponseParser::parse_head(std::string_view head) {
  size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    fail("bad status line '" + std::string(status_line.substr(0, 64)) + "'");
    return;
  }
  int code = 0;
  auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, code);
  if (ec != std::errc() || p != status_line.data() + 12) {
    fail("bad status code in '" + std::string(status_line.substr(0, 64)) + "'");
    return;
  }
  status_ = code;
  close_ = status_line.rfind("HTTP/1.0", 0) == 0;
  bool chunked = false;
  bool ms_seen = false;
  std::optional<uint64_t> length;
  while (line_end != std::string_view::npos) {
    const size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, line_end == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : line_end - start);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos) {
      chunked = true;
    } else if (name == "content-length") {
      uint64_t n = 0;
      auto [q, e2] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e2 != std::errc() || q != value.data() + value.size()) {
        fail("bad Content-Length '" + std::string(value) + "'");
        return;
      }
      length = n;
    } else if (name == "retry-after" || name == "retry-after-ms") {
      uint64_t n = 0;
      auto [q, e2] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e2 == std::errc() && q == value.data() + value.size()) {
        if (name == "retry-after-ms") {
          retry_after_s_ = static_cast<double>(n) / 1000.0;
          ms_seen = true;
        } else if (!ms_seen) {
          retry_after_s_ = static_cast<double>(n);
        }
      }
    } else if (name == "connection") {
      const std::string v = lower(value);
      if (v.find("close") != std::string::npos) close_ = true;
      if (v.find("keep-alive") != std::string::npos) close_ = false;
    }
  }
  if (chunked) {
    state_ = State::kChunkSize;
  } else if (length) {
    left_ = *length;
    state_ = left_ == 0 ? State::kDone : State::kLength;
  } else {
    state_ = State::kUntilClose;
    close_ = true;
  }
}

void SseParser::feed(std::string_view bytes,
                     const std::function<void(std::string_view)>& on_data) {
  buf_.append(bytes.data(), bytes.size());
  size_t pos = 0;
  for (;;) {
    const size_t nl = buf_.find('\n', pos);
    if (nl == std::string::npos) break;
    std::string_view line = std::string_view(buf_).substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.rfind("data:", 0) != 0) continue;
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    on_data(line);
  }
  buf_.erase(0, pos);
}


}  // namespace keel::load_bench
