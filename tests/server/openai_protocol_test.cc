// Request parsing and response building, without HTTP.
#include "keel/server/openai_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "keel/server/api_error.h"
#include "keel/server/openai_response.h"

namespace keel::server {
namespace {

using json = nlohmann::json;

ProtocolLimits limits() {
  ProtocolLimits l;
  l.vocab_size = 1000;
  return l;
}

Parsed<CompletionRequest> parse(const std::string& body) {
  return parse_completion_request(body, limits());
}

// A valid base request with `patch` merged in (null values stay as null).
std::string with(const json& patch) {
  json j = {{"model", "m"}, {"prompt", "hi"}};
  for (const auto& [k, v] : patch.items()) j[k] = v;
  return j.dump();
}

struct BadCase {
  std::string name;
  std::string body;
  std::string param;      // expected ApiError.param ("" = null)
  std::string substring;  // expected in the message
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadRequestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRequestTest, IsRejectedNamingTheField) {
  const BadCase& c = GetParam();
  auto r = parse(c.body);
  ASSERT_FALSE(r.ok()) << c.body;
  EXPECT_EQ(r.error.http_status, 400);
  EXPECT_EQ(r.error.type, "invalid_request_error");
  EXPECT_EQ(r.error.param.value_or(""), c.param) << r.error.message;
  EXPECT_NE(r.error.message.find(c.substring), std::string::npos)
      << "message: " << r.error.message << "\nwanted: " << c.substring;
}

std::vector<BadCase> bad_cases() {
  return {
      {"not_json", "{\"model\": ", "", "not valid JSON"},
      {"invalid_utf8", "{\"model\": \"\xff\"}", "", "not valid UTF-8"},
      {"array_body", "[1,2]", "", "must be a JSON object, got array"},
      {"missing_model", R"({"prompt": "x"})", "model", "model is required"},
      {"model_number", with({{"model", 3}}), "model", "must be a non-empty string, got integer"},
      {"model_empty", with({{"model", ""}}), "model", "non-empty string"},
      {"missing_prompt", R"({"model": "m"})", "prompt", "prompt is required"},
      {"prompt_null", with({{"prompt", nullptr}}), "prompt", "prompt is required"},
      {"prompt_number", with({{"prompt", 5}}), "prompt", "must be a string, an array of strings"},
      {"prompt_empty_array", with({{"prompt", json::array()}}), "prompt", "must not be an empty"},
      {"prompt_mixed", with({{"prompt", {"a", 1}}}), "prompt[1]", "prompt[1] is integer"},
      {"prompt_token_out_of_vocab", with({{"prompt", {1, 2, 1000}}}), "prompt[2]",
       "token id in [0, 1000), got 1000"},
      {"prompt_token_negative", with({{"prompt", {-1}}}), "prompt[0]", "got -1"},
      {"prompt_token_fraction", with({{"prompt", {1.5}}}), "prompt[0]", "got 1.5"},
      {"prompt_nested_empty", with({{"prompt", json::array({json::array({1}), json::array()})}}),
       "prompt[1]", "must not be an empty array"},
      {"prompt_nested_bad",
       with({{"prompt", json::array({json::array({1}), json::array({2, 5000})})}}), "prompt[1][1]",
       "got 5000"},
      {"max_tokens_zero", with({{"max_tokens", 0}}), "max_tokens", "in [1, 2147483647]"},
      {"max_tokens_string", with({{"max_tokens", "16"}}), "max_tokens", "got string \"16\""},
      {"max_tokens_bool", with({{"max_tokens", true}}), "max_tokens", "got boolean"},
      {"max_tokens_huge", with({{"max_tokens", 1e12}}), "max_tokens", "in [1, 2147483647]"},
      {"min_tokens_negative", with({{"min_tokens", -1}}), "min_tokens", ">= 0"},
      {"min_over_max", with({{"min_tokens", 20}, {"max_tokens", 10}}), "min_tokens",
       "min_tokens (20) must be <= max_tokens (10)"},
      {"temperature_high", with({{"temperature", 2.5}}), "temperature", "in [0, 2], got 2.5"},
      {"temperature_negative", with({{"temperature", -0.1}}), "temperature", "in [0, 2]"},
      {"temperature_string", with({{"temperature", "hot"}}), "temperature", "got string"},
      {"top_p_zero", with({{"top_p", 0}}), "top_p", "in (0, 1], got 0"},
      {"top_p_high", with({{"top_p", 1.5}}), "top_p", "got 1.5"},
      {"top_k_low", with({{"top_k", -2}}), "top_k", ">= -1"},
      {"top_k_float", with({{"top_k", 2.5}}), "top_k", "got 2.5"},
      {"min_p_high", with({{"min_p", 1.1}}), "min_p", "in [0, 1]"},
      {"presence_high", with({{"presence_penalty", 3}}), "presence_penalty", "in [-2, 2]"},
      {"frequency_low", with({{"frequency_penalty", -2.5}}), "frequency_penalty", "in [-2, 2]"},
      {"repetition_zero", with({{"repetition_penalty", 0}}), "repetition_penalty", "in (0, 10]"},
      {"logit_bias_array", with({{"logit_bias", {1, 2}}}), "logit_bias", "must be an object"},
      {"logit_bias_key", with({{"logit_bias", {{"abc", 1}}}}), "logit_bias",
       "keys must be token ids in [0, 1000)"},
      {"logit_bias_key_range", with({{"logit_bias", {{"1000", 1}}}}), "logit_bias", "got \"1000\""},
      {"logit_bias_value", with({{"logit_bias", {{"5", 101}}}}), "logit_bias[\"5\"]",
       "in [-100, 100], got 101"},
      {"logit_bias_value_type", with({{"logit_bias", {{"5", "x"}}}}), "logit_bias[\"5\"]",
       "got string"},
      {"seed_string", with({{"seed", "1"}}), "seed", "got string"},
      {"seed_fraction", with({{"seed", 1.5}}), "seed", "got 1.5"},
      {"stop_number", with({{"stop", 3}}), "stop", "a string, an array of strings or null"},
      {"stop_empty_string", with({{"stop", ""}}), "stop", "must not be empty"},
      {"stop_element_type", with({{"stop", {"a", 2}}}), "stop[1]", "must be a string"},
      {"stop_too_many", with({{"stop", std::vector<std::string>(17, "x")}}), "stop",
       "at most 16 strings, got 17"},
      {"stop_too_long", with({{"stop", std::string(1025, 'x')}}), "stop", "at most 1024 bytes"},
      {"stop_token_ids_type", with({{"stop_token_ids", 3}}), "stop_token_ids",
       "array of token ids"},
      {"stop_token_ids_range", with({{"stop_token_ids", {2000}}}), "stop_token_ids[0]", "got 2000"},
      {"n_zero", with({{"n", 0}}), "n", "in [1, 16], got 0"},
      {"n_too_many", with({{"n", 17}}), "n", "in [1, 16], got 17"},
      {"choices_too_many", with({{"n", 16}, {"prompt", std::vector<std::string>(5, "a")}}), "n",
       "prompts × n must be at most 64"},
      {"too_many_prompts", with({{"prompt", std::vector<std::string>(65, "a")}}), "prompt",
       "at most 64 prompts"},
      {"logprobs", with({{"logprobs", 2}}), "logprobs", "not supported yet"},
      {"logprobs_zero", with({{"logprobs", 0}}), "logprobs", "not supported yet"},
      {"echo_type", with({{"echo", "yes"}}), "echo", "must be a boolean"},
      {"ignore_eos_type", with({{"ignore_eos", 1}}), "ignore_eos", "must be a boolean"},
      {"stream_type", with({{"stream", "true"}}), "stream", "must be a boolean"},
      {"stream_options_without_stream", with({{"stream_options", {{"include_usage", true}}}}),
       "stream_options", "only allowed with \"stream\": true"},
      {"stream_options_unknown", with({{"stream", true}, {"stream_options", {{"foo", 1}}}}),
       "stream_options.foo", "unknown field"},
      {"stream_options_type", with({{"stream", true}, {"stream_options", 1}}), "stream_options",
       "an object or null"},
      {"include_usage_type",
       with({{"stream", true}, {"stream_options", {{"include_usage", "yes"}}}}),
       "stream_options.include_usage", "must be a boolean"},
      {"timeout_zero", with({{"timeout", 0}}), "timeout", "of seconds in (0, 3600]"},
      {"timeout_huge", with({{"timeout", 1e9}}), "timeout", "(0, 3600]"},
      {"user_type", with({{"user", 5}}), "user", "must be a string"},
      {"suffix", with({{"suffix", "tail"}}), "suffix", "not supported yet"},
      {"best_of", with({{"best_of", 3}}), "best_of", "best_of other than n is not supported"},
      {"unknown_field", with({{"foo", 1}}), "foo", "unknown field \"foo\""},
      {"unknown_null_field", with({{"max_token", nullptr}}), "max_token", "unknown field"},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, BadRequestTest, ::testing::ValuesIn(bad_cases()),
                         [](const auto& test_info) { return test_info.param.name; });

TEST(ParseCompletion, Defaults) {
  auto r = parse(R"({"model": "m", "prompt": "hello"})");
  ASSERT_TRUE(r.ok()) << r.error.message;
  const CompletionRequest& c = *r.value;
  EXPECT_EQ(c.model, "m");
  ASSERT_EQ(c.prompts.size(), 1u);
  EXPECT_EQ(*c.prompts[0].text, "hello");
  EXPECT_EQ(c.options.max_tokens, std::optional<int64_t>(16));
  EXPECT_EQ(c.options.n, 1);
  EXPECT_FALSE(c.options.stream);
  EXPECT_FLOAT_EQ(c.options.sampling.temperature, 1.0f);
}

TEST(ParseCompletion, EveryField) {
  auto r = parse(with({{"max_tokens", 32},
                       {"min_tokens", 2},
                       {"temperature", 0.5},
                       {"top_p", 0.9},
                       {"top_k", 40},
                       {"min_p", 0.05},
                       {"presence_penalty", 0.5},
                       {"frequency_penalty", -0.5},
                       {"repetition_penalty", 1.1},
                       {"logit_bias", {{"5", -100}, {"7", 2.5}}},
                       {"seed", -1},
                       {"stop", {"\n", "END"}},
                       {"stop_token_ids", {2}},
                       {"n", 3},
                       {"best_of", 3},
                       {"echo", true},
                       {"ignore_eos", true},
                       {"include_stop_str_in_output", true},
                       {"stream", true},
                       {"stream_options", {{"include_usage", true}}},
                       {"timeout", 2.5},
                       {"user", "u1"},
                       {"suffix", nullptr},
                       {"logprobs", nullptr}}));
  ASSERT_TRUE(r.ok()) << r.error.message;
  const GenerationOptions& o = r.value->options;
  EXPECT_EQ(*o.max_tokens, 32);
  EXPECT_EQ(o.min_tokens, 2);
  EXPECT_FLOAT_EQ(o.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(o.sampling.top_p, 0.9f);
  EXPECT_EQ(o.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(o.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(o.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(o.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(o.sampling.repetition_penalty, 1.1f);
  ASSERT_EQ(o.sampling.logit_bias.size(), 2u);
  EXPECT_EQ(o.sampling.logit_bias[0].first, 5);
  EXPECT_FLOAT_EQ(o.sampling.logit_bias[0].second, -100.0f);
  EXPECT_EQ(*o.sampling.seed, ~uint64_t{0});
  EXPECT_EQ(o.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_EQ(o.stop_token_ids, (std::vector<int32_t>{2}));
  EXPECT_EQ(o.n, 3);
  EXPECT_TRUE(r.value->echo);
  EXPECT_TRUE(o.ignore_eos);
  EXPECT_TRUE(o.include_stop_str_in_output);
  EXPECT_TRUE(o.stream);
  EXPECT_TRUE(o.include_usage);
  EXPECT_DOUBLE_EQ(*o.timeout_seconds, 2.5);
  EXPECT_EQ(o.user, "u1");
}

TEST(ParseCompletion, PromptShapes) {
  auto strings = parse(with({{"prompt", {"a", "b"}}}));
  ASSERT_TRUE(strings.ok());
  EXPECT_EQ(strings.value->prompts.size(), 2u);
  auto ids = parse(with({{"prompt", {1, 2, 3}}}));
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids.value->prompts.size(), 1u);
  EXPECT_EQ(ids.value->prompts[0].token_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_FALSE(ids.value->prompts[0].text);
  auto lists = parse(with({{"prompt", json::array({json::array({1, 2}), json::array({3})})}}));
  ASSERT_TRUE(lists.ok());
  ASSERT_EQ(lists.value->prompts.size(), 2u);
  EXPECT_EQ(lists.value->prompts[1].token_ids, (std::vector<int32_t>{3}));
}

TEST(ParseCompletion, NullMeansUnsetAndMaxTokensNullIsTheWindow) {
  auto r = parse(with({{"temperature", nullptr},
                       {"stop", nullptr},
                       {"max_tokens", nullptr},
                       {"n", nullptr},
                       {"seed", nullptr}}));
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_FALSE(r.value->options.max_tokens.has_value());
  EXPECT_FLOAT_EQ(r.value->options.sampling.temperature, 1.0f);
  EXPECT_EQ(r.value->options.n, 1);
  EXPECT_FALSE(r.value->options.sampling.seed);
}

TEST(ParseCompletion, IntegralFloatsAreIntegers) {
  auto r = parse(with({{"max_tokens", 8.0}, {"n", 2.0}}));
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(*r.value->options.max_tokens, 8);
  EXPECT_EQ(r.value->options.n, 2);
}

TEST(StatusTable, EveryCodeOnceWithTheRightHttpStatus) {
  std::set<StatusCode> seen;
  for (const StatusMapping& m : status_table()) EXPECT_TRUE(seen.insert(m.code).second);
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(http_status_for(StatusCode::kOk), 200);
  EXPECT_EQ(http_status_for(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status_for(StatusCode::kOutOfRange), 400);
  EXPECT_EQ(http_status_for(StatusCode::kNotFound), 404);
  EXPECT_EQ(http_status_for(StatusCode::kResourceExhausted), 503);
  EXPECT_EQ(http_status_for(StatusCode::kUnavailable), 503);
  EXPECT_EQ(http_status_for(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(http_status_for(StatusCode::kUnimplemented), 501);
  EXPECT_EQ(http_status_for(StatusCode::kInternal), 500);
  EXPECT_EQ(http_status_for(StatusCode::kCancelled), 499);
  ApiError e = api_error_from_status(UnavailableError("queue full"), std::nullopt, 7);
  EXPECT_EQ(e.http_status, 503);
  EXPECT_EQ(e.retry_after_seconds, 7);
  EXPECT_EQ(api_error_from_status(InternalError("x")).retry_after_seconds, 0);
}

TEST(Responses, ErrorShape) {
  ApiError e = invalid_request("top_p", "top_p must be ...");
  json j = json::parse(error_json(e));
  EXPECT_EQ(j["error"]["message"], "top_p must be ...");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_EQ(j["error"]["code"], "invalid_argument");
  e.param.reset();
  EXPECT_TRUE(json::parse(error_json(e))["error"]["param"].is_null());
}

TEST(Responses, CompletionAndChunks) {
  CompletionIds ids{"cmpl-1", 123, "m"};
  ChoiceResult c;
  c.index = 0;
  c.text = "hi \xff";  // invalid UTF-8 is replaced, not an error
  c.end.finish_reason = sampling::FinishReason::kLength;
  c.end.finish_detail = "memory_pressure";
  c.end.preemptions = 2;
  c.end.adjustments = {"max_new_tokens lowered"};
  UsageInfo u{5, 7, 2, 0.1, 0.2, 0.3};
  json j = json::parse(completion_response_json(ids, std::span(&c, 1), u));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["id"], "cmpl-1");
  EXPECT_EQ(j["created"], 123);
  EXPECT_EQ(j["choices"][0]["text"], "hi \xEF\xBF\xBD");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["choices"][0]["keel"]["finish_detail"], "memory_pressure");
  EXPECT_EQ(j["choices"][0]["keel"]["preemptions"], 2);
  EXPECT_EQ(j["choices"][0]["keel"]["adjustments"][0], "max_new_tokens lowered");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 7);
  EXPECT_EQ(j["usage"]["total_tokens"], 12);
  EXPECT_EQ(j["usage"]["keel"]["preemptions"], 2);

  json chunk = json::parse(completion_chunk_json(ids, 1, "abc", nullptr, true));
  EXPECT_EQ(chunk["choices"][0]["index"], 1);
  EXPECT_EQ(chunk["choices"][0]["text"], "abc");
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
  EXPECT_TRUE(chunk.contains("usage") && chunk["usage"].is_null());
  json last = json::parse(completion_chunk_json(ids, 0, "", &c.end, false));
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(last.contains("usage"));
  json usage = json::parse(usage_chunk_json(ids, u));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 12);
  EXPECT_EQ(sse_event("{}"), "data: {}\n\n");
}

TEST(Responses, Models) {
  ModelInfo m{"m", 10, 4096, 5};
  json list = json::parse(model_list_json(m));
  EXPECT_EQ(list["object"], "list");
  EXPECT_EQ(list["data"][0]["id"], "m");
  EXPECT_EQ(list["data"][0]["object"], "model");
  EXPECT_EQ(list["data"][0]["max_model_len"], 4096);
}

TEST(ParseChat, DefaultsKeyOrderAndPassThrough) {
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"hi","zeta":1,"alpha":2},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function",)"
      R"("function":{"name":"f","arguments":{"z":1,"a":2}}}]}],)"
      R"("tools":[{"type":"function","function":{"name":"f","parameters":{"z":{},"a":{}}}}]})";
  Parsed<ChatCompletionRequest> p = parse_chat_completion_request(body, limits());
  ASSERT_TRUE(p.ok()) << p.error.message;
  const ChatCompletionRequest& r = *p.value;
  EXPECT_EQ(r.model, "m");
  EXPECT_FALSE(r.options.max_tokens.has_value());  // chat: the rest of the window
  EXPECT_TRUE(r.add_generation_prompt);
  EXPECT_FALSE(r.tool_choice.has_value());
  EXPECT_TRUE(r.chat_template_kwargs.empty());
  // The client's key order survives (the template's tojson prints it).
  EXPECT_EQ(r.messages[0].dump(), R"({"role":"user","content":"hi","zeta":1,"alpha":2})");
  EXPECT_EQ(r.messages[1]["tool_calls"][0]["function"]["arguments"].dump(), R"({"z":1,"a":2})");
  ASSERT_TRUE(r.tools.has_value());
  EXPECT_EQ((*r.tools)[0]["function"]["parameters"].dump(), R"({"z":{},"a":{}})");
}

TEST(ParseChat, ParamsAndParts) {
  const std::string body =
      R"({"model":"m","max_completion_tokens":7,"temperature":0.5,"n":2,"stream":true,)"
      R"("stream_options":{"include_usage":true},"tool_choice":"none","logprobs":false,)"
      R"("chat_template_kwargs":{"enable_thinking":false},"add_generation_prompt":false,)"
      R"("messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})";
  Parsed<ChatCompletionRequest> p = parse_chat_completion_request(body, limits());
  ASSERT_TRUE(p.ok()) << p.error.message;
  const ChatCompletionRequest& r = *p.value;
  EXPECT_EQ(r.options.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.5f);
  EXPECT_EQ(r.options.n, 2);
  EXPECT_TRUE(r.options.stream && r.options.include_usage);
  EXPECT_EQ(*r.tool_choice, "none");
  EXPECT_EQ(r.chat_template_kwargs["enable_thinking"], false);
  EXPECT_FALSE(r.add_generation_prompt);
  EXPECT_EQ(r.messages[0]["content"], "a\nb");
}

TEST(Responses, ChatCompletionAndChunks) {
  CompletionIds ids{"chatcmpl-1", 7, "m"};
  ChoiceResult c;
  c.text = "Hello";
  c.end.finish_reason = sampling::FinishReason::kStop;
  UsageInfo u;
  u.prompt_tokens = 3;
  u.completion_tokens = 2;
  json j = json::parse(chat_response_json(ids, std::span<const ChoiceResult>(&c, 1), u));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"], json({{"role", "assistant"}, {"content", "Hello"}}));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["total_tokens"], 5);
  json role = json::parse(chat_chunk_json(ids, 0, true, "", nullptr, false));
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_FALSE(role.contains("usage"));
  json mid = json::parse(chat_chunk_json(ids, 1, false, "Hel", nullptr, true));
  EXPECT_EQ(mid["choices"][0]["index"], 1);
  EXPECT_EQ(mid["choices"][0]["delta"], json({{"content", "Hel"}}));
  EXPECT_TRUE(mid["usage"].is_null() && mid.contains("usage"));
  json last = json::parse(chat_chunk_json(ids, 0, false, "", &c.end, false));
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  json usage = json::parse(chat_usage_chunk_json(ids, u));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 2);
}

}  // namespace
}  // namespace keel::server
