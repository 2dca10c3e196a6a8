// Limits, timeouts, disconnects and shutdown: the server never hangs and a
// client cannot pin it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <thread>

#include "http_test_util.h"
#include "keel/server/http_server.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

Json request(Json patch = Json::object()) {
  Json j = {{"model", "fake-model"}, {"prompt", "hello"}, {"max_tokens", 100}};
  for (const auto& [k, v] : patch.items()) j[k] = v;
  return j;
}

double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

class RobustnessTest : public ServerTest {
 protected:
  // Waits up to `timeout` for the engine to see a cancel; returns its time.
  std::optional<SteadyClock::time_point> wait_for_cancel(std::chrono::milliseconds timeout) {
    auto until = SteadyClock::now() + timeout;
    while (SteadyClock::now() < until) {
      auto c = engine_->cancels();
      if (!c.empty()) return c.front().second;
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }
};

TEST_F(RobustnessTest, BodyOverTheLimitIs413) {
  std::string big(100 * 1024, 'x');  // limit is 64 KiB in test_config()
  Json j = request({{"prompt", big}});
  HttpResponse r = http(port_, "POST", "/v1/completions", j.dump());
  EXPECT_EQ(r.status, 413) << r.raw.substr(0, 300);
  EXPECT_EQ(r.json()["error"]["code"], "body_too_large");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("65536"), std::string::npos);
}

TEST_F(RobustnessTest, ChunkedBodyOverTheLimitIs413) {
  RawConn c(port_);
  std::string head =
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n";
  std::string chunk(32 * 1024, 'x');
  std::string body;
  for (int i = 0; i < 3; ++i) body += fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk);
  body += "0\r\n\r\n";
  ASSERT_TRUE(c.send(head));
  c.send(body);  // the server may stop reading early
  HttpResponse r = parse_response(c.read_to_eof(5s));
  EXPECT_EQ(r.status, 413) << r.raw.substr(0, 300);
}

TEST_F(RobustnessTest, HeadersOverTheLimitAre431) {
  RawConn c(port_);
  std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 40; ++i)
    req += "X-Pad-" + std::to_string(i) + ": " + std::string(500, 'a') + "\r\n";
  req += "\r\n";
  c.send(req);
  HttpResponse r = parse_response(c.read_to_eof(5s));
  EXPECT_EQ(r.status, 431) << r.raw.substr(0, 300);
  EXPECT_EQ(r.json()["error"]["code"], "headers_too_large");
}

TEST_F(RobustnessTest, SlowHeadersAreCutOff) {
  // request_read_timeout is 1.5 s in test_config(): a client trickling its
  // head gets 408 (or a close), not a thread forever.
  RawConn c(port_);
  auto start = SteadyClock::now();
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n"));
  for (int i = 0; i < 40 && !c.eof(); ++i) {
    c.send("X-Slow: 1\r\n");
    c.read_until([](const std::string& d) { return !d.empty(); }, 100ms);
    if (!c.data().empty()) break;
  }
  c.read_to_eof(5s);
  double elapsed = ms_since(start);
  HttpResponse r = parse_response(c.data());
  EXPECT_EQ(r.status, 408) << c.data();
  EXPECT_LT(elapsed, 4000) << "closed after " << elapsed << " ms";
}

TEST_F(RobustnessTest, IdleConnectionIsClosed) {
  RawConn c(port_);
  auto start = SteadyClock::now();
  c.read_to_eof(6s);
  EXPECT_TRUE(c.eof());
  double elapsed = ms_since(start);
  EXPECT_GT(elapsed, 1500);  // read_timeout = 2 s
  EXPECT_LT(elapsed, 4500);
}

TEST_F(RobustnessTest, StreamingClientDisconnectCancels) {
  engine_->set_script(make_script([](FakeScript& s) {
    s.token_delay = 20ms;
    s.hold_open = true;
  }));
  RawConn c(port_);
  ASSERT_TRUE(c.send(build_request("POST", "/v1/completions", request({{"stream", true}}).dump())));
  c.read_until([](const std::string& d) { return d.find("tok1") != std::string::npos; }, 5s);
  ASSERT_NE(c.data().find("tok1"), std::string::npos) << c.data();
  auto closed_at = SteadyClock::now();
  c.close();
  auto cancelled_at = wait_for_cancel(3s);
  ASSERT_TRUE(cancelled_at) << "the engine was never told to cancel";
  double ms = std::chrono::duration<double, std::milli>(*cancelled_at - closed_at).count();
  std::printf("streaming disconnect -> cancel: %.1f ms\n", ms);
  EXPECT_LT(ms, 1500);
  EXPECT_EQ(engine_->cancels().front().first, engine_->submitted().front().id);
}

TEST_F(RobustnessTest, NonStreamingClientDisconnectCancels) {
  engine_->set_script(make_script([](FakeScript& s) { s.hold_open = true; }));
  RawConn c(port_);
  ASSERT_TRUE(c.send(build_request("POST", "/v1/completions", request().dump())));
  auto until = SteadyClock::now() + 3s;
  while (engine_->submitted().empty() && SteadyClock::now() < until)
    std::this_thread::sleep_for(5ms);
  ASSERT_FALSE(engine_->submitted().empty());
  auto closed_at = SteadyClock::now();
  c.close();
  auto cancelled_at = wait_for_cancel(3s);
  ASSERT_TRUE(cancelled_at);
  double ms = std::chrono::duration<double, std::milli>(*cancelled_at - closed_at).count();
  std::printf("non-streaming disconnect -> cancel: %.1f ms\n", ms);
  EXPECT_LT(ms, 1500);
}

TEST_F(RobustnessTest, RequestTimeoutEndsWithAbortDetail) {
  engine_->set_script(make_script([](FakeScript& s) { s.hold_open = true; }));
  HttpResponse r = http(port_, "POST", "/v1/completions", request({{"timeout", 0.2}}).dump());
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.json()["choices"][0]["finish_reason"], "abort");
  EXPECT_EQ(r.json()["choices"][0]["keel"]["finish_detail"], "timeout");
}

TEST_F(RobustnessTest, EngineThatNeverFinishesGets504) {
  // The fake ignores timeouts when the request has none; the server's own
  // deadline (default_request_deadline + final_grace) still ends it.
  ServerConfig cfg = test_config();
  cfg.default_request_deadline = 300ms;
  cfg.final_grace = 200ms;
  restart(cfg);
  engine_->set_script(make_script([](FakeScript& s) { s.hold_open = true; }));
  auto start = SteadyClock::now();
  HttpResponse r = http(port_, "POST", "/v1/completions", request().dump());
  EXPECT_EQ(r.status, 504) << r.raw;
  EXPECT_LT(ms_since(start), 3000);
  EXPECT_FALSE(engine_->cancels().empty());
}

TEST_F(RobustnessTest, TooManyConnectionsIs503) {
  ServerConfig cfg = test_config();
  cfg.max_connections = 4;
  restart(cfg);
  std::vector<std::unique_ptr<RawConn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawConn>(port_));
    ASSERT_TRUE(held.back()->connected());
  }
  std::this_thread::sleep_for(100ms);  // let the server register them
  HttpResponse r = http(port_, "GET", "/health");
  EXPECT_EQ(r.status, 503) << r.raw;
  EXPECT_EQ(r.json()["error"]["code"], "too_many_connections");
  EXPECT_EQ(r.header("retry-after"), "1");
  held.clear();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);
}

TEST_F(RobustnessTest, StopIsBoundedWithOpenStreams) {
  engine_->set_script(make_script([](FakeScript& s) {
    s.token_delay = 10ms;
    s.hold_open = true;
  }));
  std::vector<std::unique_ptr<RawConn>> streams;
  for (int i = 0; i < 8; ++i) {
    streams.push_back(std::make_unique<RawConn>(port_));
    streams.back()->send(
        build_request("POST", "/v1/completions", request({{"stream", true}}).dump()));
  }
  for (auto& s : streams) {
    s->read_until([](const std::string& d) { return d.find("tok0") != std::string::npos; }, 5s);
  }
  auto start = SteadyClock::now();
  Status st = server_->stop();
  double elapsed = ms_since(start);
  std::printf("stop() with 8 open streams: %.1f ms\n", elapsed);
  EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_LT(elapsed, 3500);
  int told = 0;
  for (auto& s : streams) {
    std::string d = s->read_to_eof(3s);
    if (d.find("shutting down") != std::string::npos) ++told;
  }
  EXPECT_EQ(told, 8) << "every open stream ends with a final error event";
  EXPECT_EQ(engine_->cancels().size(), 8u);
  server_.reset();
}

}  // namespace
}  // namespace keel::server::testing
