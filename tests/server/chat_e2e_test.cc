// /v1/chat/completions end to end: the real engine, a random-weight Qwen2
// model with the real Qwen3 tokenizer and its real chat template
// (tokenizer_config.json). Greedy chat through the server equals
// engine::generate() on the prompt keel::jinja renders, tokenized without
// added special tokens; streaming equals non-streaming; tools and
// chat_template_kwargs reach the template; the official openai npm client
// chats (streaming and not).
#include <cstdlib>

#include "common/process.h"
#include "real_server.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;
using OJson = nlohmann::ordered_json;

struct ChatStream {
  std::string content;
  std::string finish_reason;
  int64_t completion_tokens = -1;
  int64_t prompt_tokens = -1;
  bool role_first = false;
  bool done = false;
};

ChatStream stream_chat(int port, const Json& body, std::chrono::milliseconds timeout) {
  ChatStream r;
  bool first = true;
  for (const Json& j : stream_events(port, "/v1/chat/completions", body, timeout, &r.done)) {
    for (const Json& ch : j["choices"]) {
      if (first) r.role_first = ch["delta"].value("role", "") == "assistant";
      first = false;
      if (ch["delta"].contains("content")) r.content += ch["delta"]["content"].get<std::string>();
      if (ch["finish_reason"].is_string()) r.finish_reason = ch["finish_reason"];
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      r.completion_tokens = j["usage"]["completion_tokens"];
      r.prompt_tokens = j["usage"]["prompt_tokens"];
    }
  }
  return r;
}

class ChatE2eTest : public RealServerTest {
 protected:
  HttpResponse chat(const Json& body) {
    return http(port_, "POST", "/v1/chat/completions", body.dump(), {});
  }
  // What keel::jinja renders for `messages` and the tokenizer makes of it
  // without special tokens: the reference prompt ids.
  std::vector<int32_t> rendered_ids(const OJson& messages, std::optional<OJson> tools = {},
                                    OJson kwargs = OJson::object()) {
    auto tmpl = jinja::load_chat_template(real_model_dir());
    EXPECT_TRUE(tmpl.ok()) << tmpl.status().to_string();
    if (!tmpl.ok()) return {};
    jinja::ChatOptions o;
    o.messages = messages;
    o.tools = std::move(tools);
    o.add_generation_prompt = true;
    o.kwargs = std::move(kwargs);
    auto text = tmpl->render_chat(o);
    EXPECT_TRUE(text.ok()) << text.status().to_string();
    auto tok = tokenizer::Tokenizer::from_path(real_model_dir());
    auto ids = tok->encode(*text, /*add_special_tokens=*/false);
    EXPECT_TRUE(ids.ok());
    return std::vector<int32_t>(ids->begin(), ids->end());
  }
  std::vector<int32_t> end_of_turn() {
    auto tmpl = jinja::load_chat_template(real_model_dir());
    auto tok = tokenizer::Tokenizer::from_path(real_model_dir());
    return end_of_turn_ids(*tok, tmpl.ok() ? &*tmpl : nullptr);
  }
};

TEST_F(ChatE2eTest, GreedyChatEqualsGenerateOnTheRenderedPrompt) {
  start();
  const std::vector<int32_t> stops = end_of_turn();
  // Qwen3's template: <|im_end|> (its eos_token) ends a turn.
  auto tok = tokenizer::Tokenizer::from_path(real_model_dir());
  ASSERT_TRUE(tok->token_to_id("<|im_end|>").has_value());
  EXPECT_NE(std::find(stops.begin(), stops.end(),
                      static_cast<int32_t>(*tok->token_to_id("<|im_end|>"))),
            stops.end());
  const std::vector<OJson> conversations = {
      OJson::array({{{"role", "user"}, {"content", "Hello, who are you?"}}}),
      OJson::array({{{"role", "system"}, {"content", "You are terse."}},
                    {{"role", "user"}, {"content", "日本語 and emoji 👩‍💻"}},
                    {{"role", "assistant"}, {"content", "Sure."}},
                    {{"role", "user"}, {"content", "Again"}}}),
  };
  for (const OJson& messages : conversations) {
    const std::vector<int32_t> ids = rendered_ids(messages);
    ASSERT_FALSE(ids.empty());
    engine::GenerateResult ref = reference_ids(ids, 24, stops);
    Json body = {{"model", "tiny-qwen2"},
                 {"messages", Json::parse(messages.dump())},
                 {"max_tokens", 24},
                 {"temperature", 0}};
    HttpResponse r = chat(body);
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = r.json();
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(j["choices"][0]["message"]["content"], ref.text) << messages.dump();
    EXPECT_EQ(j["usage"]["prompt_tokens"], static_cast<int64_t>(ids.size()));
    EXPECT_EQ(j["usage"]["completion_tokens"], static_cast<int64_t>(ref.token_ids.size()));
    // Streaming gives the same text.
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    ChatStream s = stream_chat(port_, body, 60s);
    EXPECT_TRUE(s.done);
    EXPECT_TRUE(s.role_first);
    EXPECT_EQ(s.content, ref.text);
    EXPECT_EQ(s.completion_tokens, static_cast<int64_t>(ref.token_ids.size()));
    EXPECT_EQ(s.prompt_tokens, static_cast<int64_t>(ids.size()));
  }
}

TEST_F(ChatE2eTest, EnableThinkingAndToolsReachTheTemplate) {
  start();
  const OJson messages = OJson::array({{{"role", "user"}, {"content", "What is the weather?"}}});
  auto prompt_tokens = [&](Json extra) {
    Json body = {{"model", "tiny-qwen2"},
                 {"messages", Json::parse(messages.dump())},
                 {"max_tokens", 1}};
    for (const auto& [k, v] : extra.items()) body[k] = v;
    HttpResponse r = chat(body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["usage"]["prompt_tokens"].get<int64_t>();
  };
  const int64_t plain = prompt_tokens(Json::object());
  const int64_t no_think = prompt_tokens({{"chat_template_kwargs", {{"enable_thinking", false}}}});
  EXPECT_NE(plain, no_think);
  EXPECT_EQ(no_think, static_cast<int64_t>(
                          rendered_ids(messages, std::nullopt, {{"enable_thinking", false}}).size()));
  // Tools: sent as raw JSON so the key order is the client's.
  const std::string tools =
      R"([{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])";
  const std::string body = R"({"model":"tiny-qwen2","max_tokens":1,"tool_choice":"auto",)"
                           R"("messages":[{"role":"user","content":"What is the weather?"}],)"
                           R"("tools":)" + tools + "}";
  HttpResponse r = http(port_, "POST", "/v1/chat/completions", body, {});
  ASSERT_EQ(r.status, 200) << r.body;
  const int64_t with_tools = r.json()["usage"]["prompt_tokens"];
  EXPECT_EQ(with_tools,
            static_cast<int64_t>(
                rendered_ids(messages, OJson::parse(tools), {{"tool_choice", "auto"}}).size()));
  EXPECT_GT(with_tools, plain + 20);
  // A conversation the template refuses is 400 with the template's message.
  r = chat({{"model", "tiny-qwen2"}, {"messages", Json::array({{{"role", "assistant"}, {"content", nullptr},
            {"tool_calls", Json::array({{{"function", {{"name", "f"}, {"arguments", "{}"}}}}})}}})},
            {"max_tokens", 1}});
  // Whatever the template does with it, the server answers (200 or 400), never 5xx.
  EXPECT_LT(r.status, 500) << r.body;
}

TEST_F(ChatE2eTest, OpenAiNpmClientChat) {
  auto node = keel::testing::find_in_path("node");
  if (!node) GTEST_SKIP() << "node not found: install nodejs (scripts/install-deps.sh)";
  auto modules = keel::testing::testdata_dir();
  if (!modules || !std::filesystem::exists(*modules + "/openai/index.mjs")) {
    GTEST_SKIP() << "npm package openai missing: run scripts/setup-testdata.sh";
  }
  start();
  const OJson messages = OJson::array({{{"role", "system"}, {"content", "You are helpful."}},
                                       {{"role", "user"}, {"content", "Say hello"}}});
  engine::GenerateResult ref = reference_ids(rendered_ids(messages), 20, end_of_turn());
  const char* src = std::getenv("KEEL_SOURCE_DIR");
  std::string script = std::string(src ? src : ".") + "/tests/server/openai_chat_e2e.mjs";
  std::string log = std::filesystem::temp_directory_path() /
                    ("keel_openai_chat_e2e_" + std::to_string(::getpid()) + ".log");
  int rc = keel::testing::run_bounded({*node, script, std::to_string(port_), *modules + "/openai",
                                       "tiny-qwen2", "20"},
                                      log, 120s);
  std::string out = keel::testing::read_text_file(log);
  std::filesystem::remove(log);
  std::printf("%s", out.c_str());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("TEXT " + Json(ref.text).dump() + "\n"), std::string::npos)
      << "want " << Json(ref.text).dump() << "\n" << out;
}

}  // namespace
}  // namespace keel::server::testing
