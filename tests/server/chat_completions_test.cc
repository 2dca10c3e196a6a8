// POST /v1/chat/completions over a FakeEngine (its trivial "template" is in
// fake_engine.h): message validation, content parts, what reaches the
// template and the engine, response and chunk shapes, template errors.
#include <gtest/gtest.h>

#include "http_test_util.h"
#include "keel/server/http_server.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;
using OJson = nlohmann::ordered_json;

Json chat(Json patch = Json::object()) {
  Json j = {{"model", "fake-model"},
            {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})},
            {"max_tokens", 3}};
  for (const auto& [k, v] : patch.items()) j[k] = v;
  return j;
}

std::vector<int32_t> bytes_of(const std::string& s) {
  std::vector<int32_t> ids;
  for (unsigned char c : s) ids.push_back(static_cast<int32_t>(c) + 3);
  return ids;
}

class ChatCompletionsTest : public ServerTest {
 protected:
  HttpResponse chat_post(const Json& body) { return post("/v1/chat/completions", body); }
  HttpResponse chat_raw(const std::string& body) {
    return http(port_, "POST", "/v1/chat/completions", body);
  }
};

TEST_F(ChatCompletionsTest, BadRequestsNameTheField) {
  struct Case {
    Json patch;
    std::string param;
    std::string in_message;
  };
  const Json user = {{"role", "user"}, {"content", "hi"}};
  const std::vector<Case> cases = {
      {{{"messages", "hi"}}, "messages", "must be an array"},
      {{{"messages", Json::array()}}, "messages", "must not be empty"},
      {{{"messages", nullptr}}, "messages", "required"},
      {{{"messages", Json::array({user, 5})}}, "messages[1]", "must be an object"},
      {{{"messages", Json::array({user, user, {{"role", "robot"}, {"content", "x"}}})}},
       "messages[2].role",
       "system, user, assistant, tool"},
      {{{"messages", Json::array({{{"content", "x"}}})}}, "messages[0].role", "required"},
      {{{"messages", Json::array({{{"role", 3}, {"content", "x"}}})}}, "messages[0].role",
       "must be a string"},
      {{{"messages", Json::array({{{"role", "user"}}})}}, "messages[0].content", "required"},
      {{{"messages", Json::array({{{"role", "user"}, {"content", 7}}})}}, "messages[0].content",
       "must be a string"},
      {{{"messages",
         Json::array({{{"role", "user"},
                       {"content", Json::array({{{"type", "image_url"}, {"image_url", "x"}}})}}})}},
       "messages[0].content[0].type",
       "\"image_url\" is not supported"},
      {{{"messages", Json::array({{{"role", "user"}, {"content", Json::array({{{"type", "text"}}})}}})}},
       "messages[0].content[0].text",
       "must be a string"},
      {{{"messages", Json::array({{{"role", "user"}, {"content", Json::array({"x"})}}})}},
       "messages[0].content[0]",
       "must be an object"},
      {{{"messages", Json::array({{{"role", "user"}, {"content", "x"}, {"tool_calls", Json::array()}}})}},
       "messages[0].tool_calls",
       "only allowed for assistant"},
      {{{"messages",
         Json::array({{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", Json::array({{{"id", "a"}}})}}})}},
       "messages[0].tool_calls[0].function",
       "must be an object"},
      {{{"messages", Json::array({{{"role", "tool"}, {"content", "42"}, {"tool_call_id", 5}}})}},
       "messages[0].tool_call_id",
       "must be a string"},
      {{{"messages", Json::array({{{"role", "user"}, {"content", "x"}, {"name", false}}})}},
       "messages[0].name",
       "must be a string"},
      {{{"tools", "f"}}, "tools", "must be an array"},
      {{{"tools", Json::array({{{"type", "function"}}})}}, "tools[0].function", "must be an object"},
      {{{"tool_choice", "sometimes"}}, "tool_choice", "\"none\", \"auto\""},
      {{{"tool_choice", "required"}}, "tool_choice", "not supported"},
      {{{"chat_template_kwargs", Json::array()}}, "chat_template_kwargs", "must be an object"},
      {{{"add_generation_prompt", "yes"}}, "add_generation_prompt", "must be a boolean"},
      {{{"continue_final_message", true}}, "continue_final_message", "not supported"},
      {{{"temperature", 3}}, "temperature", "in [0, 2]"},
      {{{"n", 17}}, "n", "in [1, 16]"},
      {{{"logprobs", true}}, "logprobs", "not supported"},
      {{{"prompt", "x"}}, "prompt", "unknown field"},
      {{{"max_completion_tokens", 4}}, "max_tokens", "not both"},
      {{{"stream_options", {{"include_usage", true}}}}, "stream_options", "only allowed"},
  };
  for (const Case& c : cases) {
    HttpResponse r = chat_post(chat(c.patch));
    EXPECT_EQ(r.status, 400) << c.patch.dump() << "\n" << r.raw;
    Json j = r.json();
    ASSERT_TRUE(j.contains("error")) << r.raw;
    EXPECT_EQ(j["error"]["param"], c.param) << c.patch.dump() << "\n" << r.body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(c.in_message), std::string::npos)
        << c.patch.dump() << "\n" << r.body;
  }
  HttpResponse r = chat_raw("{\"model\": \"fake-model\", \"messages\": [");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["code"], "invalid_json");
  r = chat_post({{"messages", Json::array({{{"role", "user"}, {"content", "x"}}})}});
  EXPECT_EQ(r.json()["error"]["param"], "model");
  r = chat_post(chat({{"model", "gpt-5"}}));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"]["code"], "model_not_found");
  EXPECT_TRUE(engine_->submitted().empty());
}

TEST_F(ChatCompletionsTest, ResponseShapeAndWhatTheEngineGets) {
  HttpResponse r = chat_post(chat({{"messages", Json::array({{{"role", "system"}, {"content", "be brief"}},
                                                               {{"role", "user"}, {"content", "hi"}}})},
                                   {"stop_token_ids", Json::array({2, 9})}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  Json j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u) << j["id"];
  EXPECT_EQ(j["model"], "fake-model");
  ASSERT_EQ(j["choices"].size(), 1u);
  const Json& c = j["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_EQ(c["message"]["content"], "tok0 tok1 tok2 ");
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_TRUE(c["logprobs"].is_null());
  EXPECT_TRUE(c.contains("keel"));
  const std::string prompt = "<|system|>be brief\n<|user|>hi\n<|assistant|>";
  EXPECT_EQ(j["usage"]["prompt_tokens"], static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(j["usage"]["completion_tokens"], 3);
  EXPECT_EQ(j["usage"]["total_tokens"], static_cast<int64_t>(prompt.size()) + 3);
  auto sub = engine_->submitted();
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].prompt_ids, bytes_of(prompt));  // no BOS added to a chat prompt
  // The end-of-turn id joins the client's stop ids (once).
  EXPECT_EQ(sub[0].stop.stop_token_ids, (std::vector<int32_t>{2, 9}));
  EXPECT_EQ(sub[0].max_new_tokens, 3);
}

TEST_F(ChatCompletionsTest, DefaultsToTheRestOfTheWindowAndAddsEndOfTurn) {
  HttpResponse r = chat_post(chat({{"max_tokens", nullptr}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  auto sub = engine_->submitted();
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_FALSE(sub[0].max_new_tokens.has_value());
  EXPECT_EQ(sub[0].stop.stop_token_ids, (std::vector<int32_t>{2}));
  // max_completion_tokens is max_tokens; ignore_eos drops the end-of-turn id.
  Json body = chat({{"max_completion_tokens", 2}, {"ignore_eos", true}});
  body.erase("max_tokens");
  r = chat_post(body);
  ASSERT_EQ(r.status, 200) << r.raw;
  sub = engine_->submitted();
  EXPECT_EQ(sub.back().max_new_tokens, 2);
  EXPECT_TRUE(sub.back().stop.stop_token_ids.empty());
}

TEST_F(ChatCompletionsTest, TextPartsToolsKwargsReachTheTemplate) {
  const std::string tools_text =
      R"([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"description":"Weather"}}])";
  const std::string body = std::string(R"({"model":"fake-model","max_tokens":2,)") +
                           R"("messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},)" +
                           R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)" +
                           R"({"role":"tool","tool_call_id":"c1","content":"sunny"}],)" +
                           R"("tools":)" + tools_text +
                           R"(,"tool_choice":"auto","chat_template_kwargs":{"enable_thinking":false},)" +
                           R"("add_generation_prompt":false})";
  HttpResponse r = chat_raw(body);
  ASSERT_EQ(r.status, 200) << r.raw;
  auto renders = engine_->renders();
  ASSERT_EQ(renders.size(), 1u);
  const ChatRenderRequest& rr = renders[0];
  EXPECT_FALSE(rr.add_generation_prompt);
  ASSERT_TRUE(rr.tools.has_value());
  EXPECT_EQ(rr.tools->dump(), tools_text);  // the client's key order
  EXPECT_EQ(rr.kwargs.dump(), R"({"tool_choice":"auto","enable_thinking":false})");
  ASSERT_EQ(rr.messages.size(), 3u);
  EXPECT_EQ(rr.messages[0]["content"], "a\nb");  // text parts joined
  EXPECT_EQ(rr.messages[1]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Paris\"}");
  EXPECT_EQ(rr.messages[2]["tool_call_id"], "c1");
  // kwargs override tool_choice; enable_thinking changes the prompt.
  r = chat_post(chat({{"chat_template_kwargs", {{"enable_thinking", true}}}}));
  ASSERT_EQ(r.status, 200);
  const int64_t with = r.json()["usage"]["prompt_tokens"];
  r = chat_post(chat({{"chat_template_kwargs", {{"enable_thinking", false}}}}));
  EXPECT_NE(r.json()["usage"]["prompt_tokens"].get<int64_t>(), with);
}

TEST_F(ChatCompletionsTest, TemplateErrorsAre400) {
  HttpResponse r = chat_post(chat({{"messages", Json::array({{{"role", "user"}, {"content", "RAISE"}}})}}));
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.json()["error"]["message"], "Conversation roles must alternate user/assistant");
  EXPECT_EQ(r.json()["error"]["code"], "chat_template_error");
  EXPECT_EQ(r.json()["error"]["param"], "messages");
  engine_->set_has_chat_template(false);
  r = chat_post(chat());
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.json()["error"]["message"], "this model has no chat template; use /v1/completions");
  EXPECT_EQ(r.json()["error"]["code"], "no_chat_template");
  EXPECT_TRUE(engine_->submitted().empty());
}

TEST_F(ChatCompletionsTest, NChoices) {
  HttpResponse r = chat_post(chat({{"n", 3}, {"seed", 5}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  Json j = r.json();
  ASSERT_EQ(j["choices"].size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(j["choices"][k]["index"], k);
    EXPECT_EQ(j["choices"][k]["message"]["content"], "tok0 tok1 tok2 ");
  }
  EXPECT_EQ(j["usage"]["completion_tokens"], 9);
  EXPECT_EQ(j["usage"]["prompt_tokens"], static_cast<int64_t>(std::string("<|user|>hi\n<|assistant|>").size()));
}

TEST_F(ChatCompletionsTest, StreamingChunks) {
  HttpResponse r = chat_post(chat({{"stream", true}, {"n", 2}, {"stream_options", {{"include_usage", true}}}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.header("content-type").find("text/event-stream"), std::string::npos);
  std::vector<std::string> events = sse_payloads(r.body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::map<int, std::string> text;
  std::map<int, int> role_chunks, finals;
  std::map<int, bool> role_first;
  bool usage_seen = false;
  for (size_t e = 0; e + 1 < events.size(); ++e) {
    Json j = Json::parse(events[e]);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
    ASSERT_TRUE(j.contains("usage"));
    if (j["choices"].empty()) {
      EXPECT_EQ(e, events.size() - 2) << "usage chunk is the last before [DONE]";
      EXPECT_EQ(j["usage"]["completion_tokens"], 6);
      usage_seen = true;
      continue;
    }
    EXPECT_TRUE(j["usage"].is_null());
    const Json& c = j["choices"][0];
    const int k = c["index"];
    const Json& delta = c["delta"];
    if (!role_first.count(k)) role_first[k] = delta.contains("role");
    if (delta.contains("role")) {
      EXPECT_EQ(delta["role"], "assistant");
      ++role_chunks[k];
    }
    if (delta.contains("content")) text[k] += delta["content"].get<std::string>();
    if (!c["finish_reason"].is_null()) {
      EXPECT_EQ(c["finish_reason"], "length");
      EXPECT_TRUE(c.contains("keel"));
      ++finals[k];
    }
  }
  EXPECT_TRUE(usage_seen);
  for (int k = 0; k < 2; ++k) {
    EXPECT_TRUE(role_first[k]) << k;
    EXPECT_EQ(role_chunks[k], 1) << k;
    EXPECT_EQ(finals[k], 1) << k;
    EXPECT_EQ(text[k], "tok0 tok1 tok2 ") << k;
  }
}

TEST_F(ChatCompletionsTest, StreamingWithoutUsageHasNoUsageField) {
  HttpResponse r = chat_post(chat({{"stream", true}}));
  ASSERT_EQ(r.status, 200) << r.raw;
  std::vector<std::string> events = sse_payloads(r.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  Json first = Json::parse(events[0]);
  EXPECT_FALSE(first.contains("usage"));
  EXPECT_EQ(first["choices"][0]["delta"], Json({{"role", "assistant"}, {"content", ""}}));
  Json last = Json::parse(events[events.size() - 2]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
}

}  // namespace
}  // namespace keel::server::testing
