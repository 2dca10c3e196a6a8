// End to end: the HTTP server over the real engine and a real model, with
// real clients — raw HTTP, and the official openai npm package. Greedy
// output through the server equals engine::generate()'s (what `keel
// generate` prints); 64 concurrent streams complete with correct usage; a
// burst of disconnects and a queue-full burst leave the KV pool whole.
#include <atomic>
#include <thread>

#include "common/process.h"
#include "real_server.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

// Streams one completion on its own connection; returns the concatenated
// text and the final usage (completion_tokens -1 when it never came).
struct StreamResult {
  std::string text;
  int64_t completion_tokens = -1;
  std::string finish_reason;
  bool done = false;
};

StreamResult stream_completion(int port, const Json& body, std::chrono::milliseconds timeout) {
  StreamResult r;
  for (const Json& j : stream_events(port, "/v1/completions", body, timeout, &r.done)) {
    for (const Json& ch : j["choices"]) {
      r.text += ch.value("text", "");
      if (ch["finish_reason"].is_string()) r.finish_reason = ch["finish_reason"];
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      r.completion_tokens = j["usage"]["completion_tokens"];
    }
  }
  return r;
}

class ServeE2eTest : public RealServerTest {};

TEST_F(ServeE2eTest, GreedyThroughTheServerEqualsGenerate) {
  start();
  for (const std::string prompt : {"Hello, world", "keel never hangs. 日本語 and emoji 👩‍💻",
                                   "The quick brown fox jumps over the lazy dog"}) {
    engine::GenerateResult ref = reference(prompt, 24);
    HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", prompt}, {"max_tokens", 24},
                               {"temperature", 0}});
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = r.json();
    EXPECT_EQ(j["choices"][0]["text"], ref.text) << prompt;
    EXPECT_EQ(j["usage"]["completion_tokens"], static_cast<int64_t>(ref.token_ids.size()));
    // Streaming gives the same text.
    StreamResult s = stream_completion(port_,
                                       {{"model", "tiny-qwen2"}, {"prompt", prompt},
                                        {"max_tokens", 24}, {"temperature", 0}, {"stream", true},
                                        {"stream_options", {{"include_usage", true}}}},
                                       30s);
    EXPECT_TRUE(s.done);
    EXPECT_EQ(s.text, ref.text);
    EXPECT_EQ(s.completion_tokens, static_cast<int64_t>(ref.token_ids.size()));
  }
}

TEST_F(ServeE2eTest, OpenAiNpmClient) {
  auto node = keel::testing::find_in_path("node");
  if (!node) GTEST_SKIP() << "node not found: install nodejs (scripts/install-deps.sh)";
  auto modules = keel::testing::testdata_dir();
  if (!modules || !std::filesystem::exists(*modules + "/openai/index.mjs")) {
    GTEST_SKIP() << "npm package openai missing: run scripts/setup-testdata.sh";
  }
  start();
  const std::string prompt = "Once upon a time";
  engine::GenerateResult ref = reference(prompt, 20);
  const char* src = std::getenv("KEEL_SOURCE_DIR");
  std::string script = std::string(src ? src : ".") + "/tests/server/openai_e2e.mjs";
  std::string log = std::filesystem::temp_directory_path() /
                    ("keel_openai_e2e_" + std::to_string(::getpid()) + ".log");
  int rc = keel::testing::run_bounded(
      {*node, script, std::to_string(port_), *modules + "/openai", "tiny-qwen2", prompt, "20"}, log,
      120s);
  std::string out = keel::testing::read_text_file(log);
  std::filesystem::remove(log);
  std::printf("%s", out.c_str());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("TEXT " + Json(ref.text).dump() + "\n"), std::string::npos)
      << "want " << Json(ref.text).dump() << "\n" << out;
}

TEST_F(ServeE2eTest, SixtyFourConcurrentStreams) {
  start();
  constexpr int kClients = 64;
  std::vector<StreamResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      results[i] = stream_completion(
          port_,
          {{"model", "tiny-qwen2"}, {"prompt", "client " + std::to_string(i)},
           {"max_tokens", 8 + i % 8}, {"ignore_eos", true}, {"temperature", 0.8}, {"seed", i},
           {"stream", true}, {"stream_options", {{"include_usage", true}}}},
          120s);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(results[i].done) << "client " << i;
    EXPECT_EQ(results[i].completion_tokens, 8 + i % 8) << "client " << i;
    EXPECT_EQ(results[i].finish_reason, "length") << "client " << i;
  }
  expect_pool_whole();
  EXPECT_GE(engine_->stats().num_finished_by_reason[static_cast<size_t>(
                sampling::FinishReason::kLength)],
            kClients);
}

TEST_F(ServeE2eTest, DisconnectBurstLeavesThePoolWhole) {
  start();
  constexpr int kClients = 24;
  std::vector<std::unique_ptr<RawConn>> conns;
  Json body = {{"model", "tiny-qwen2"}, {"prompt", "a long story"}, {"max_tokens", 400},
               {"ignore_eos", true}, {"stream", true}};
  for (int i = 0; i < kClients; ++i) {
    conns.push_back(std::make_unique<RawConn>(port_));
    ASSERT_TRUE(conns.back()->connected());
    conns.back()->send(build_request("POST", "/v1/completions", body.dump(), {}));
  }
  // Every stream has produced something, then all clients vanish at once.
  for (auto& c : conns) {
    std::string d = c->read_until(
        [](const std::string& s) { return s.find("\"text\"") != std::string::npos; }, 30s);
    EXPECT_NE(d.find("\"text\""), std::string::npos);
  }
  EXPECT_GT(engine_->stats().kv_blocks_used, 0);
  conns.clear();
  expect_pool_whole(5s);
  const engine::EngineStats st = engine_->stats();
  EXPECT_EQ(st.num_ended_by_keel_reason[static_cast<size_t>(engine::KeelReason::kCancelled)],
            kClients);
  // And the server goes on serving.
  HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "after"}, {"max_tokens", 4}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ServeE2eTest, QueueFullBurstGetsImmediate503) {
  RealServerOptions o;
  o.max_running = 2;
  o.max_queued_requests = 2;
  start(o);
  Json body = {{"model", "tiny-qwen2"}, {"prompt", "busy"}, {"max_tokens", 400},
               {"ignore_eos", true}, {"stream", true}};
  // Two running, then two queued (a request counts as queued until it runs).
  std::vector<std::unique_ptr<RawConn>> busy;
  auto add_busy = [&](int n) {
    for (int i = 0; i < n; ++i) {
      busy.push_back(std::make_unique<RawConn>(port_));
      busy.back()->send(build_request("POST", "/v1/completions", body.dump(), {}));
    }
  };
  auto wait_for = [&](auto pred) {
    const auto until = SteadyClock::now() + 10s;
    while (!pred(engine_->stats()) && SteadyClock::now() < until) std::this_thread::sleep_for(2ms);
    return pred(engine_->stats());
  };
  add_busy(2);
  ASSERT_TRUE(wait_for([](const engine::EngineStats& s) { return s.num_running == 2; }));
  add_busy(2);
  ASSERT_TRUE(wait_for([](const engine::EngineStats& s) { return s.num_waiting == 2; }));
  std::atomic<int> refused{0};
  std::vector<std::thread> burst;
  for (int i = 0; i < 16; ++i) {
    burst.emplace_back([&] {
      HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 4}});
      if (r.status == 503 && !r.header("retry-after").empty() &&
          r.json()["error"]["message"].get<std::string>().find("queue") != std::string::npos) {
        ++refused;
      }
    });
  }
  for (auto& t : burst) t.join();
  EXPECT_EQ(refused.load(), 16);
  // Refused before tokenization (the server sees the full queue), counted.
  HttpResponse m = http(port_, "GET", "/metrics", "", {});
  EXPECT_NE(m.body.find("keel_requests_rejected_total{reason=\"unavailable\"} 16"),
            std::string::npos)
      << m.body;
  busy.clear();
  expect_pool_whole(5s);
}

TEST_F(ServeE2eTest, RequestsThatCanNeverRunAre400WithTheNumbers) {
  start();
  HttpResponse r = complete(
      {{"model", "tiny-qwen2"}, {"prompt", "x"}, {"min_tokens", 5000}, {"max_tokens", 6000}});
  EXPECT_EQ(r.status, 400) << r.body;
  std::string msg = r.json()["error"]["message"];
  EXPECT_NE(msg.find("5000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("512"), std::string::npos) << msg;

  r = complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 100000},
                {"strict_max_tokens", true}});
  EXPECT_EQ(r.status, 400) << r.body;

  std::vector<int32_t> long_prompt(600, 100);
  r = complete({{"model", "tiny-qwen2"}, {"prompt", long_prompt}, {"max_tokens", 4}});
  EXPECT_EQ(r.status, 400) << r.body;
  msg = r.json()["error"]["message"];
  EXPECT_NE(msg.find("600"), std::string::npos) << msg;

  // Without strict_max_tokens a too-large max_tokens is lowered and said so.
  r = complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 100000},
                {"ignore_eos", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(j["choices"][0]["keel"]["adjustments"].empty()) << r.body;
  EXPECT_EQ(j["choices"][0]["keel"]["finish_detail"], "context_window") << r.body;
}

TEST_F(ServeE2eTest, TimeoutEndsTheRequestAndFreesItsBlocks) {
  start();
  HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "slow"}, {"max_tokens", 100000},
                             {"ignore_eos", true}, {"timeout", 0.2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["choices"][0]["keel"]["finish_detail"], "timeout") << r.body;
  expect_pool_whole();
}

TEST_F(ServeE2eTest, HealthReadyAndMetricsReflectTheEngine) {
  start();
  HttpResponse h = http(port_, "GET", "/health", "", {});
  EXPECT_EQ(h.status, 200) << h.body;
  HttpResponse rd = http(port_, "GET", "/ready", "", {});
  EXPECT_EQ(rd.status, 200) << rd.body;
  adapter_->set_not_ready("draining");
  rd = http(port_, "GET", "/ready", "", {});
  EXPECT_EQ(rd.status, 503);
  EXPECT_NE(rd.body.find("draining"), std::string::npos) << rd.body;
  HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(r.status, 503) << r.body;
  adapter_->set_not_ready("");
  r = complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(r.status, 200) << r.body;
  HttpResponse m = http(port_, "GET", "/metrics", "", {});
  EXPECT_NE(m.body.find("keel_kv_blocks_capacity " +
                        std::to_string(executor_->kv_pool().num_total())),
            std::string::npos)
      << m.body;
}

TEST_F(ServeE2eTest, MemoryWarningDegradesAndCriticalClosesAdmission) {
  start();
  adapter_->set_memory_state({1, "host memory 88.0% used >= warning 85%", {{"host", 0.88}}});
  HttpResponse rd = http(port_, "GET", "/ready", "", {});
  EXPECT_EQ(rd.status, 200);
  EXPECT_EQ(rd.json()["status"], "degraded") << rd.body;
  EXPECT_NE(rd.body.find("88.0%"), std::string::npos) << rd.body;
  EXPECT_EQ(complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 2}}).status, 200);
  HttpResponse m = http(port_, "GET", "/metrics", "", {});
  EXPECT_NE(m.body.find("keel_memory_pressure_level 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("keel_memory_usage_ratio{resource=\"host\"} 0.88"), std::string::npos);

  adapter_->set_memory_state({2, "host memory 96.0% used >= critical 95%", {{"host", 0.96}}});
  rd = http(port_, "GET", "/ready", "", {});
  EXPECT_EQ(rd.status, 503);
  EXPECT_NE(rd.body.find("memory critical"), std::string::npos) << rd.body;
  HttpResponse r = complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_NE(r.body.find("memory is critical"), std::string::npos) << r.body;

  adapter_->set_memory_state({});
  EXPECT_EQ(http(port_, "GET", "/ready", "", {}).json()["status"], "ready");
  EXPECT_EQ(complete({{"model", "tiny-qwen2"}, {"prompt", "x"}, {"max_tokens", 2}}).status, 200);
}

}  // namespace
}  // namespace keel::server::testing
