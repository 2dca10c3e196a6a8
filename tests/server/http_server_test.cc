// The HTTP API over a FakeEngine: routes, completions, streaming, errors.
// Real HTTP over localhost on an ephemeral port.
#include "keel/server/http_server.h"

#include <gtest/gtest.h>

#include "http_test_util.h"
#include "promtool_util.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

Json base(Json patch = Json::object()) {
  Json j = {{"model", "fake-model"}, {"prompt", "hello"}, {"max_tokens", 5}};
  for (const auto& [k, v] : patch.items()) j[k] = v;
  return j;
}

class HttpServerTest : public ServerTest {};

TEST_F(HttpServerTest, HealthFollowsTheEngineHeartbeat) {
  HttpResponse r = http(port_, "GET", "/health");
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.json()["status"], "ok");
  engine_->set_heartbeat_age(60s);
  r = http(port_, "GET", "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json()["status"], "unhealthy");
  EXPECT_NE(r.json()["reason"].get<std::string>().find("no progress for 60000 ms"),
            std::string::npos);
  engine_->set_heartbeat_age(std::nullopt);
  EXPECT_EQ(http(port_, "GET", "/health").json()["status"], "starting");
}

TEST_F(HttpServerTest, ReadyNeedsTheModelAndOpenAdmission) {
  EXPECT_EQ(http(port_, "GET", "/ready").status, 200);
  engine_->set_ready(false, "loading weights");
  HttpResponse r = http(port_, "GET", "/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json()["reason"], "loading weights");
  EXPECT_EQ(r.header("retry-after"), "2");
}

TEST_F(HttpServerTest, Models) {
  HttpResponse r = http(port_, "GET", "/v1/models");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["data"][0]["id"], "fake-model");
  EXPECT_EQ(http(port_, "GET", "/v1/models/fake-model").json()["id"], "fake-model");
  r = http(port_, "GET", "/v1/models/other");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"]["code"], "model_not_found");
}

TEST_F(HttpServerTest, CompletionWithUsageAndKeelExtension) {
  engine_->set_script(make_script([](FakeScript& s) {
    s.finish_detail = "memory_pressure";
    s.preemptions = 2;
    s.adjustments = {"max_new_tokens lowered from 9 to 5"};
  }));
  HttpResponse r = complete(base({{"seed", 11}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  Json j = r.json();
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "fake-model");
  EXPECT_EQ(j["id"], r.header("x-request-id"));
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["text"], "tok0 tok1 tok2 tok3 tok4 ");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["keel"]["finish_detail"], "memory_pressure");
  EXPECT_EQ(j["choices"][0]["keel"]["preemptions"], 2);
  EXPECT_EQ(j["choices"][0]["keel"]["seed"], 11);
  EXPECT_EQ(j["choices"][0]["keel"]["adjustments"][0], "max_new_tokens lowered from 9 to 5");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 6);  // BOS + "hello"
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
  EXPECT_EQ(j["usage"]["total_tokens"], 11);
  EXPECT_EQ(j["usage"]["keel"]["preemptions"], 2);
}

TEST_F(HttpServerTest, ParametersReachTheEngine) {
  HttpResponse r = complete(base({{"max_tokens", nullptr},
                                  {"min_tokens", 1},
                                  {"temperature", 0.7},
                                  {"top_p", 0.8},
                                  {"top_k", 5},
                                  {"min_p", 0.1},
                                  {"repetition_penalty", 1.2},
                                  {"logit_bias", {{"42", 3}}},
                                  {"stop", "zz"},
                                  {"stop_token_ids", {7}},
                                  {"ignore_eos", true},
                                  {"timeout", 30},
                                  {"user", "me"},
                                  {"prompt", {104, 105}}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  auto subs = engine_->submitted();
  ASSERT_EQ(subs.size(), 1u);
  const GenerationRequest& g = subs[0];
  EXPECT_FALSE(g.max_new_tokens.has_value());
  EXPECT_EQ(g.prompt_ids, (std::vector<int32_t>{104, 105}));
  EXPECT_EQ(g.stop.min_new_tokens, 1);
  EXPECT_FLOAT_EQ(g.sampling.temperature, 0.7f);
  EXPECT_FLOAT_EQ(g.sampling.top_p, 0.8f);
  EXPECT_EQ(g.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(g.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(g.sampling.repetition_penalty, 1.2f);
  ASSERT_EQ(g.sampling.logit_bias.size(), 1u);
  EXPECT_EQ(g.sampling.logit_bias[0].first, 42);
  EXPECT_EQ(g.stop.stop_strings, (std::vector<std::string>{"zz"}));
  EXPECT_EQ(g.stop.stop_token_ids, (std::vector<int32_t>{7}));
  EXPECT_TRUE(g.stop.ignore_eos);
  EXPECT_EQ(g.timeout, std::optional<std::chrono::milliseconds>(30s));
  EXPECT_EQ(g.id, r.header("x-request-id") + "-0");
}

TEST_F(HttpServerTest, EchoTextAndTokenPrompts) {
  HttpResponse r = complete(base({{"echo", true}, {"max_tokens", 1}}));
  EXPECT_EQ(r.json()["choices"][0]["text"], "hellotok0 ");
  r = complete(base({{"echo", true}, {"max_tokens", 1}, {"prompt", {1, 107, 108}}}));
  EXPECT_EQ(r.json()["choices"][0]["text"], "hitok0 ");  // ids 107, 108 = "hi"
}

TEST_F(HttpServerTest, SeveralPromptsTimesN) {
  HttpResponse r =
      complete(base({{"prompt", {"ab", "cde"}}, {"n", 3}, {"max_tokens", 2}, {"seed", 100}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  Json j = r.json();
  ASSERT_EQ(j["choices"].size(), 6u);
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(j["choices"][k]["index"], k);
    EXPECT_EQ(j["choices"][k]["text"], "tok0 tok1 ");
  }
  EXPECT_EQ(j["usage"]["prompt_tokens"], 3 + 4);  // each prompt once: BOS+ab, BOS+cde
  EXPECT_EQ(j["usage"]["completion_tokens"], 12);
  auto subs = engine_->submitted();
  ASSERT_EQ(subs.size(), 6u);
  std::set<uint64_t> seeds;
  for (const auto& g : subs) seeds.insert(*g.sampling.seed);
  EXPECT_EQ(seeds.size(), 3u) << "choices of one prompt draw with different seeds";
}

TEST_F(HttpServerTest, StopStrings) {
  engine_->set_script(make_script([](FakeScript& s) { s.pieces = {"a", "b", "xSTOPy", "c"}; }));
  HttpResponse r = complete(base({{"stop", {"STOP", "zz"}}, {"max_tokens", 10}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.json()["choices"][0]["text"], "abx");
  EXPECT_EQ(r.json()["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(engine_->submitted()[0].stop.stop_strings, (std::vector<std::string>{"STOP", "zz"}));
}

TEST_F(HttpServerTest, StreamingSse) {
  HttpResponse r = complete(base({{"stream", true}, {"n", 2}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  auto events = sse_payloads(r.body);
  ASSERT_GE(events.size(), 3u) << r.body;
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text[2];
  int finished = 0;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    Json c = Json::parse(events[i]);
    EXPECT_EQ(c["object"], "text_completion");
    EXPECT_FALSE(c.contains("usage"));
    ASSERT_EQ(c["choices"].size(), 1u);
    int idx = c["choices"][0]["index"];
    text[idx] += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) {
      ++finished;
      EXPECT_EQ(c["choices"][0]["finish_reason"], "length");
    }
  }
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(text[0], "tok0 tok1 tok2 tok3 tok4 ");
  EXPECT_EQ(text[1], text[0]);
}

TEST_F(HttpServerTest, StreamingUsageChunk) {
  HttpResponse r = complete(
      base({{"stream", true}, {"stream_options", {{"include_usage", true}}}, {"echo", true}}));
  auto events = sse_payloads(r.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  Json first = Json::parse(events[0]);
  EXPECT_EQ(first["choices"][0]["text"], "hello");  // echo comes first
  EXPECT_TRUE(first["usage"].is_null());
  Json usage = Json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["prompt_tokens"], 6);
  EXPECT_EQ(usage["usage"]["completion_tokens"], 5);
}

TEST_F(HttpServerTest, ErrorMidStreamIsTheLastEvent) {
  engine_->set_script(make_script([](FakeScript& s) {
    s.token_delay = 5ms;
    s.fail_after = 2;
  }));
  HttpResponse r = complete(base({{"stream", true}}));
  ASSERT_EQ(r.status, 200);
  auto events = sse_payloads(r.body);
  ASSERT_FALSE(events.empty()) << r.body;
  Json last = Json::parse(events.back());
  ASSERT_TRUE(last.contains("error")) << events.back();
  EXPECT_EQ(last["error"]["code"], "internal_error");
  EXPECT_NE(last["error"]["message"].get<std::string>().find(r.header("x-request-id")),
            std::string::npos);
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    text += Json::parse(events[i])["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "tok0 tok1 ");
  EXPECT_EQ(r.body.find("[DONE]"), std::string::npos);
}

TEST_F(HttpServerTest, NonStreamingFailureMapsThroughTheTable) {
  engine_->set_script(make_script([](FakeScript& s) {
    s.fail_after = 1;
    s.fail_status = UnavailableError("shutdown");
  }));
  HttpResponse r = complete(base());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json()["error"]["code"], "unavailable");
  EXPECT_FALSE(r.header("retry-after").empty());
  engine_->set_script(make_script([](FakeScript& s) { s.fail_after = 0; }));
  r = complete(base());
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find(r.header("x-request-id")),
            std::string::npos);
}

TEST_F(HttpServerTest, EngineRefusals) {
  engine_->refuse_submits(UnavailableError("queue full: 256 waiting"));
  HttpResponse r = complete(base());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "2");
  EXPECT_EQ(r.header("retry-after-ms"), "1500");  // read first by the OpenAI clients
  EXPECT_EQ(r.json()["error"]["message"], "queue full: 256 waiting");
  engine_->refuse_submits(InvalidArgumentError("prompt of 9000 tokens exceeds the window"));
  r = complete(base());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["param"], "prompt");
  engine_->refuse_submits(InternalError("boom"));
  r = complete(base());
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find(r.header("x-request-id")),
            std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequests) {
  struct Case {
    std::string method, path, body;
    int status;
    std::string code, param;
  };
  std::vector<Case> cases = {
      {"POST", "/v1/completions", "{bad json", 400, "invalid_json", ""},
      // Nesting past kMaxJsonDepth (copies and dump() would recurse per level).
      {"POST", "/v1/completions",
       R"({"model":"m","prompt":"x","stop":)" + std::string(30'000, '[') +
           std::string(30'000, ']') + "}",
       400, "invalid_json", ""},
      {"POST", "/v1/completions", base({{"temperature", "hot"}}).dump(), 400, "invalid_argument",
       "temperature"},
      {"POST", "/v1/completions", base({{"bogus", 1}}).dump(), 400, "invalid_argument", "bogus"},
      {"POST", "/v1/completions", base({{"n", 17}}).dump(), 400, "invalid_argument", "n"},
      {"POST", "/v1/completions", base({{"logprobs", 1}}).dump(), 400, "invalid_argument",
       "logprobs"},
      {"POST", "/v1/completions", base({{"prompt", "a\x01"}}).dump(), 400, "invalid_argument",
       "prompt"},
      {"POST", "/v1/completions", base({{"model", "gpt-5"}}).dump(), 404, "model_not_found",
       "model"},
      {"POST", "/v1/chat/completions", "{}", 400, "invalid_argument", "model"},
      {"GET", "/v1/completions", "", 405, "method_not_allowed", ""},
      {"GET", "/nope", "", 404, "unknown_route", ""},
  };
  for (const Case& c : cases) {
    HttpResponse r = http(port_, c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << " " << c.body << "\n" << r.raw;
    Json j = r.json();
    ASSERT_TRUE(j.contains("error")) << r.raw;
    EXPECT_EQ(j["error"]["code"], c.code) << r.raw;
    EXPECT_EQ(j["error"]["param"].is_null() ? "" : j["error"]["param"].get<std::string>(), c.param);
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }
  EXPECT_TRUE(engine_->submitted().empty());
}

TEST_F(HttpServerTest, PostWithoutContentLength) {
  RawConn c(port_);
  ASSERT_TRUE(c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  HttpResponse r = parse_response(c.read_to_eof(5s));
  EXPECT_EQ(r.status, 411);
  EXPECT_EQ(r.json()["error"]["code"], "length_required");
}

TEST_F(HttpServerTest, ApiKey) {
  ServerConfig cfg = test_config();
  cfg.api_key = "s3cret";
  restart(cfg);
  HttpResponse r = complete(base());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json()["error"]["type"], "authentication_error");
  EXPECT_EQ(post("/v1/completions", base(), {"Authorization: Bearer nope"}).status, 401);
  EXPECT_EQ(http(port_, "GET", "/v1/models").status, 401);
  EXPECT_EQ(post("/v1/completions", base(), {"Authorization: Bearer s3cret"}).status, 200);
  EXPECT_EQ(http(port_, "GET", "/health").status, 200);  // probes need no key
  EXPECT_EQ(http(port_, "GET", "/metrics").status, 200);
}

TEST_F(HttpServerTest, EarlyAnswerToAPostClosesTheConnection) {
  // 401 is sent before the body is read; keeping the connection would parse
  // the body as the next request.
  ServerConfig cfg = test_config();
  cfg.api_key = "k";
  restart(cfg);
  RawConn c(port_);
  ASSERT_TRUE(c.send(build_request("POST", "/v1/completions", base().dump(), {}, /*close=*/false)));
  HttpResponse r = parse_response(c.read_to_eof(5s));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_TRUE(c.eof());
}

TEST_F(HttpServerTest, ApiKeyFromEnvironment) {
  ::setenv("KEEL_API_KEY", "from-env", 1);
  ServerConfig cfg = test_config();
  cfg.api_key.reset();
  restart(cfg);
  ::unsetenv("KEEL_API_KEY");
  EXPECT_EQ(complete(base()).status, 401);
  EXPECT_EQ(post("/v1/completions", base(), {"Authorization: Bearer from-env"}).status, 200);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
  RawConn c(port_);
  std::string body = base().dump();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(build_request("POST", "/v1/completions", body, {}, /*close=*/false)));
    std::string before = c.data();
    std::string all = c.read_until(
        [&](const std::string& d) {
          return d.size() > before.size() &&
                 d.find("total_tokens", before.size()) != std::string::npos && d.back() == '}';
        },
        5s);
    EXPECT_NE(all.find("total_tokens", before.size()), std::string::npos) << i;
  }
}

TEST_F(HttpServerTest, MetricsPassPromtool) {
  ASSERT_EQ(complete(base()).status, 200);
  ASSERT_EQ(complete(base({{"stream", true}})).status, 200);
  ASSERT_EQ(complete(base({{"top_p", 7}})).status, 400);
  HttpResponse r = http(port_, "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/plain; version=0.0.4"), std::string::npos);
  for (const char* name :
       {"keel_requests_running ", "keel_requests_waiting ", "keel_kv_blocks_used ",
        "keel_kv_blocks_capacity 1024", "keel_preemptions_total 3", "keel_prompt_tokens_total 12",
        "keel_generation_tokens_total 10",
        "keel_requests_finished_total{finish_reason=\"length\",finish_detail=\"none\"} 2",
        "keel_requests_rejected_total{reason=\"invalid_argument\"} 1",
        "keel_time_to_first_token_seconds_count 2", "keel_time_per_output_token_seconds_bucket",
        "keel_e2e_request_latency_seconds_sum", "keel_request_queue_time_seconds_count 2",
        "keel_http_requests_total{route=\"/v1/completions\",status=\"200\"} 2",
        "process_resident_memory_bytes "}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name << "\n" << r.body;
  }
  KEEL_REQUIRE_PROMTOOL(promtool);
  auto check = promtool_check(promtool, r.body);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

}  // namespace
}  // namespace keel::server::testing
