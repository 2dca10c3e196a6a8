// The metrics registry's exposition format, checked by hand and by promtool.
#include "keel/server/metrics.h"

#include <gtest/gtest.h>

#include <thread>

#include "keel/server/server_metrics.h"
#include "promtool_util.h"

namespace keel::server::metrics {
namespace {

TEST(Metrics, FormatValue) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(12), "12");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Metrics, Escaping) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("x\\y\nz\"q"), "x\\\\y\\nz\"q");
}

TEST(Metrics, Names) {
  EXPECT_TRUE(is_valid_metric_name("keel_requests_total"));
  EXPECT_TRUE(is_valid_metric_name("a:b_c1"));
  EXPECT_FALSE(is_valid_metric_name("1abc"));
  EXPECT_FALSE(is_valid_metric_name("a-b"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_TRUE(is_valid_label_name("route"));
  EXPECT_FALSE(is_valid_label_name("le"));
  EXPECT_FALSE(is_valid_label_name("__name"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
}

TEST(Metrics, CounterGaugeExposition) {
  Registry reg;
  CounterFamily& c = reg.counter("test_events_total", "Events.\nSecond line.", {"kind"});
  c.labels({"a\"x"}).inc();
  c.labels({"a\"x"}).inc(2);
  c.labels({"b"}).inc(-5);  // ignored: counters never go down
  GaugeFamily& g = reg.gauge("test_level", "A level.");
  g.labels({}).set(3.5);
  g.labels({}).dec(1);
  EXPECT_EQ(reg.render(),
            "# HELP test_events_total Events.\\nSecond line.\n"
            "# TYPE test_events_total counter\n"
            "test_events_total{kind=\"a\\\"x\"} 3\n"
            "test_events_total{kind=\"b\"} 0\n"
            "# HELP test_level A level.\n"
            "# TYPE test_level gauge\n"
            "test_level 2.5\n");
}

TEST(Metrics, RaiseToIsMonotonic) {
  Registry reg;
  Counter& c = reg.counter("mirrored_total", "m").labels({});
  c.raise_to(5);
  c.raise_to(3);
  EXPECT_EQ(c.value(), 5);
}

TEST(Metrics, HistogramExposition) {
  Registry reg;
  HistogramFamily& h = reg.histogram("test_latency_seconds", "Latency.", {"route"}, {0.25, 1});
  Histogram& x = h.labels({"/a"});
  x.observe(0.125);
  x.observe(0.25);  // le is inclusive
  x.observe(0.5);
  x.observe(7);
  EXPECT_EQ(reg.render(),
            "# HELP test_latency_seconds Latency.\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{route=\"/a\",le=\"0.25\"} 2\n"
            "test_latency_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
            "test_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
            "test_latency_seconds_sum{route=\"/a\"} 7.875\n"
            "test_latency_seconds_count{route=\"/a\"} 4\n");
  Registry plain;
  plain.histogram("x_seconds", "X.", {}, {1}).labels({}).observe(2);
  EXPECT_NE(plain.render().find("x_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
}

TEST(Metrics, ConcurrentUpdatesAreCounted) {
  Registry reg;
  Counter& c = reg.counter("c_total", "c").labels({});
  Histogram& h = reg.histogram("h_seconds", "h", {}, {1}).labels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(h.snapshot().count, 40000u);
}

TEST(Metrics, PromtoolAcceptsServerMetrics) {
  KEEL_REQUIRE_PROMTOOL(promtool);
  keel::server::ServerMetrics m;
  keel::server::GenerationFinal f;
  f.finish_reason = sampling::FinishReason::kLength;
  f.finish_detail = "memory_pressure";
  f.prompt_tokens = 5;
  f.completion_tokens = 9;
  f.ttft_seconds = 0.02;
  f.tpot_seconds = 0.01;
  f.e2e_seconds = 0.2;
  f.queue_seconds = 0.001;
  m.on_choice_finished(f);
  m.on_rejected("invalid_argument");
  m.on_http_response("/v1/completions", 200);
  keel::server::EngineSnapshot s;
  s.num_running = 2;
  s.heartbeat_age = std::chrono::milliseconds(3);
  std::string text = m.render(s, 4);
  auto r = keel::server::testing::promtool_check(promtool, text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n---\n" << text;
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("keel_requests_finished_total{finish_reason=\"length\","
                      "finish_detail=\"memory_pressure\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace keel::server::metrics
