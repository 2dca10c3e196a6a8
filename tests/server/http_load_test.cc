// Hundreds of open streams must not starve /health, /metrics or a new
// request: one thread per connection, created on demand.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "http_test_util.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kStreams = 256;

class LoadTest : public ServerTest {};

double timed_ms(const std::function<void()>& f) {
  auto t0 = SteadyClock::now();
  f();
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

TEST_F(LoadTest, HealthAnswersQuicklyWith256OpenStreams) {
  // Streams hold open (a token every 200 ms); other requests finish at once.
  engine_->set_script([](const GenerationRequest& g) {
    FakeScript s;
    if (g.max_new_tokens.value_or(0) == 1000) {
      s.token_delay = 200ms;
      s.hold_open = true;
    }
    return s;
  });
  Json stream_body = {
      {"model", "fake-model"}, {"prompt", "x"}, {"max_tokens", 1000}, {"stream", true}};
  std::vector<std::unique_ptr<RawConn>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::make_unique<RawConn>(port_));
    ASSERT_TRUE(streams.back()->connected()) << i;
    ASSERT_TRUE(streams.back()->send(build_request("POST", "/v1/completions", stream_body.dump())));
  }
  int open = 0;
  for (auto& s : streams) {
    s->read_until([](const std::string& d) { return d.find("data: ") != std::string::npos; }, 20s);
    open += s->data().find("data: ") != std::string::npos ? 1 : 0;
  }
  ASSERT_EQ(open, kStreams);
  EXPECT_EQ(engine_->num_live(), static_cast<size_t>(kStreams));

  std::vector<double> health;
  for (int i = 0; i < 5; ++i) {
    health.push_back(timed_ms([&] { EXPECT_EQ(http(port_, "GET", "/health").status, 200); }));
  }
  double metrics = timed_ms([&] {
    HttpResponse r = http(port_, "GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("keel_requests_running 256"), std::string::npos);
    EXPECT_NE(r.body.find(fmt::format("keel_http_connections_open {}", kStreams + 1)),
              std::string::npos);
  });
  double completion = timed_ms([&] {
    Json body = {{"model", "fake-model"}, {"prompt", "y"}, {"max_tokens", 3}};
    EXPECT_EQ(http(port_, "POST", "/v1/completions", body.dump()).status, 200);
  });
  std::sort(health.begin(), health.end());
  std::printf(
      "with %d open streams: /health median %.2f ms, max %.2f ms; /metrics %.2f ms; "
      "new completion %.2f ms\n",
      kStreams, health[2], health.back(), metrics, completion);
  EXPECT_LT(health.back(), 5000);  // target well under 1 s; generous against a loaded CI box
  EXPECT_LT(metrics, 5000);
  EXPECT_LT(completion, 5000);

  auto t0 = SteadyClock::now();
  streams.clear();  // every client goes away: every stream is cancelled
  auto until = t0 + 10s;
  while (engine_->cancels().size() < static_cast<size_t>(kStreams) && SteadyClock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(engine_->cancels().size(), static_cast<size_t>(kStreams));
  std::printf("%d disconnects -> cancels in %.1f ms\n", kStreams,
              std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
}

}  // namespace
}  // namespace keel::server::testing
