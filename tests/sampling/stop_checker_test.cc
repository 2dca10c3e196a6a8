#include "keel/sampling/stop_checker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "keel/sampling/sampler.h"

namespace keel::sampling {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kVocab = 100;
constexpr int32_t kEos = 99;

StopChecker make_checker(StopParams params) {
  Result<StopChecker> checker = StopChecker::create(std::move(params), kVocab);
  KEEL_CHECK(checker.ok()) << checker.status().to_string();
  return std::move(checker).value();
}

StopParams stop_on(std::vector<std::string> stop_strings, int64_t max_new_tokens = 100) {
  StopParams p;
  p.eos_ids = {kEos};
  p.stop_strings = std::move(stop_strings);
  p.max_new_tokens = max_new_tokens;
  return p;
}

struct Outcome {
  std::string text;             // everything emitted
  std::vector<std::string> steps;  // what each call emitted
  FinishInfo finish;
  int64_t finished_at = -1;     // 1-based token that finished; -1: not finished
};

// Feeds (token, text) pairs until the checker finishes.
Outcome run(StopChecker& checker, const std::vector<std::pair<int32_t, std::string>>& tokens) {
  Outcome out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const StepResult step = checker.on_token(tokens[i].first, tokens[i].second);
    out.text += step.text;
    out.steps.emplace_back(step.text);
    if (step.finished) {
      out.finish = step.finish;
      out.finished_at = static_cast<int64_t>(i) + 1;
      break;
    }
  }
  return out;
}

// Text-only tokens (id 1).
std::vector<std::pair<int32_t, std::string>> texts(const std::vector<std::string>& pieces) {
  std::vector<std::pair<int32_t, std::string>> tokens;
  for (const std::string& piece : pieces) tokens.emplace_back(1, piece);
  return tokens;
}

TEST(StopCheckerTest, MaxNewTokensFinishesWithLength) {
  StopChecker checker = make_checker(stop_on({}, 3));
  const Outcome out = run(checker, texts({"a", "b", "c", "d"}));
  EXPECT_EQ(out.text, "abc");
  EXPECT_EQ(out.steps, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(out.finished_at, 3);
  EXPECT_EQ(out.finish.reason, FinishReason::kLength);
  EXPECT_EQ(out.finish.cause, StopCause::kMaxNewTokens);
  EXPECT_EQ(finish_reason_name(out.finish.reason), "length");
  EXPECT_EQ(checker.num_generated_tokens(), 3);
}

TEST(StopCheckerTest, EosStopsAndItsTextIsNeverEmitted) {
  StopChecker checker = make_checker(stop_on({"xyz"}));
  const Outcome out = run(checker, {{1, "hi "}, {2, "x"}, {kEos, "</s>"}});
  EXPECT_EQ(out.text, "hi x");  // the held "x" is released, "</s>" is not
  EXPECT_EQ(out.steps, (std::vector<std::string>{"hi ", "", "x"}));
  EXPECT_EQ(out.finish.reason, FinishReason::kStop);
  EXPECT_EQ(out.finish.cause, StopCause::kEosToken);
  EXPECT_EQ(out.finish.token_id, kEos);
  EXPECT_EQ(finish_reason_name(out.finish.reason), "stop");
}

TEST(StopCheckerTest, StopStringSpanningThreeTokens) {
  StopChecker checker = make_checker(stop_on({"STOP"}));
  const Outcome out = run(checker, texts({"hello S", "TO", "P more", "never"}));
  EXPECT_EQ(out.steps, (std::vector<std::string>{"hello ", "", ""}));
  EXPECT_EQ(out.text, "hello ");
  EXPECT_EQ(out.finished_at, 3);
  EXPECT_EQ(out.finish.cause, StopCause::kStopString);
  EXPECT_EQ(out.finish.stop_string_index, 0);
}

TEST(StopCheckerTest, IncludeStopStringInOutput) {
  StopParams p = stop_on({"STOP"});
  p.include_stop_str_in_output = true;
  StopChecker checker = make_checker(p);
  const Outcome out = run(checker, texts({"hello S", "TO", "P more"}));
  EXPECT_EQ(out.text, "hello STOP");  // text after the stop string is dropped
  EXPECT_EQ(out.finish.reason, FinishReason::kStop);
}

TEST(StopCheckerTest, OverlappingPrefixes) {
  StopChecker split = make_checker(stop_on({"ab"}));
  const Outcome a = run(split, texts({"a", "a", "b"}));
  EXPECT_EQ(a.steps, (std::vector<std::string>{"", "a", ""}));
  EXPECT_EQ(a.text, "a");
  StopChecker whole = make_checker(stop_on({"ab"}));
  EXPECT_EQ(run(whole, texts({"aab"})).text, "a");
  StopChecker kmp = make_checker(stop_on({"aab"}));
  const Outcome b = run(kmp, texts({"a", "a", "a", "b"}));
  EXPECT_EQ(b.text, "a");
  EXPECT_EQ(b.finished_at, 4);
  StopChecker periodic = make_checker(stop_on({"abac"}));
  EXPECT_EQ(run(periodic, texts({"ab", "ab", "ac"})).text, "ab");
}

TEST(StopCheckerTest, StopStringAtTheVeryStart) {
  StopChecker checker = make_checker(stop_on({"Hi"}));
  const Outcome out = run(checker, texts({"Hi there"}));
  EXPECT_EQ(out.text, "");
  EXPECT_EQ(out.finished_at, 1);
  EXPECT_EQ(out.finish.cause, StopCause::kStopString);
}

TEST(StopCheckerTest, EarliestCompletingStopStringWins) {
  // "lo w" completes at byte 8 of "hello world", "world" at byte 11.
  for (const std::vector<std::string>& pieces :
       {std::vector<std::string>{"hello world"},
        std::vector<std::string>{"h", "e", "l", "l", "o", " ", "w", "o", "r", "l", "d"},
        std::vector<std::string>{"hello", " wor", "ld"}}) {
    StopChecker checker = make_checker(stop_on({"world", "lo w"}));
    const Outcome out = run(checker, texts(pieces));
    EXPECT_EQ(out.text, "hel");
    EXPECT_EQ(out.finish.stop_string_index, 1);
  }
  // Completing at the same byte: the longer one.
  StopChecker same_end = make_checker(stop_on({"b", "ab"}));
  const Outcome out = run(same_end, texts({"xab"}));
  EXPECT_EQ(out.text, "x");
  EXPECT_EQ(out.finish.stop_string_index, 1);
}

TEST(StopCheckerTest, HeldTextIsReleasedWhenTheNearMatchFails) {
  StopChecker checker = make_checker(stop_on({"STOP"}));
  const Outcome out = run(checker, texts({"ST", "OCK", " S", "O"}));
  EXPECT_EQ(out.steps, (std::vector<std::string>{"", "STOCK", " ", "SO"}));
  EXPECT_EQ(checker.held_bytes(), 0u);
  EXPECT_FALSE(checker.finished());
}

TEST(StopCheckerTest, Utf8StopStringSplitAcrossTokens) {
  // "你好" is e4 bd a0 e5 a5 bd.
  StopChecker chars = make_checker(stop_on({"你好"}));
  const Outcome out = run(chars, texts({"说", "你", "", "好吗"}));
  EXPECT_EQ(out.steps, (std::vector<std::string>{"说", "", "", ""}));
  EXPECT_EQ(out.finished_at, 4);  // the empty delta (pending character) is a token
  StopChecker bytes = make_checker(stop_on({"你好"}));
  EXPECT_EQ(run(bytes, texts({"a\xe4\xbd", "\xa0\xe5", "\xa5\xbd!"})).text, "a");
  // A failed near-match releases whole characters.
  StopChecker near = make_checker(stop_on({"你好"}));
  const Outcome released = run(near, texts({"你", "们"}));
  EXPECT_EQ(released.steps, (std::vector<std::string>{"", "你们"}));
}

TEST(StopCheckerTest, StopTokenIds) {
  StopParams p = stop_on({});
  p.stop_token_ids = {7};
  StopChecker checker = make_checker(p);
  const Outcome out = run(checker, {{1, "a"}, {7, "<|im_end|>"}, {1, "b"}});
  EXPECT_EQ(out.text, "a");
  EXPECT_EQ(out.finish.cause, StopCause::kStopToken);
  EXPECT_EQ(out.finish.token_id, 7);
  p.include_stop_str_in_output = true;
  StopChecker included = make_checker(p);
  EXPECT_EQ(run(included, {{1, "a"}, {7, "<|im_end|>"}}).text, "a<|im_end|>");
}

TEST(StopCheckerTest, OwnStopTakesPrecedenceOverLength) {
  StopChecker stop_at_max = make_checker(stop_on({"yz"}, 2));
  const Outcome out = run(stop_at_max, texts({"ay", "z"}));
  EXPECT_EQ(out.finish.reason, FinishReason::kStop);
  EXPECT_EQ(out.text, "a");
  StopChecker length = make_checker(stop_on({"xyz"}, 2));
  const Outcome held = run(length, texts({"a", "x"}));
  EXPECT_EQ(held.finish.reason, FinishReason::kLength);
  EXPECT_EQ(held.text, "ax");  // held text is released at the end
}

TEST(StopCheckerTest, MinNewTokensMakesEarlyStopsOrdinaryText) {
  StopParams p = stop_on({"x"});
  p.stop_token_ids = {7};
  p.min_new_tokens = 3;
  StopChecker checker = make_checker(p);
  EXPECT_TRUE(checker.suppress_eos());
  EXPECT_THAT(checker.suppressed_token_ids(), testing::ElementsAre(kEos, 7));
  // Tokens 1-3 cannot stop: "x" is text, EOS is dropped, 7 is text.
  const Outcome out = run(checker, {{1, "x"}, {kEos, "</s>"}, {7, "!"}, {1, "ax"}, {1, "b"}});
  EXPECT_EQ(out.text, "x!a");
  EXPECT_EQ(out.finished_at, 4);
  EXPECT_EQ(out.finish.cause, StopCause::kStopString);
  EXPECT_FALSE(checker.suppress_eos());
  EXPECT_TRUE(checker.suppressed_token_ids().empty());
}

TEST(StopCheckerTest, StopStringHeldAcrossTheMinBoundary) {
  StopParams p = stop_on({"ab"});
  p.min_new_tokens = 1;
  StopChecker checker = make_checker(p);
  // "a" (token 1) is held; "b" (token 2) completes the match and may stop.
  const Outcome out = run(checker, texts({"a", "b"}));
  EXPECT_EQ(out.text, "");
  EXPECT_EQ(out.finished_at, 2);
}

TEST(StopCheckerTest, IgnoreEosSuppressesAndNeverStopsOnEos) {
  StopParams p = stop_on({}, 3);
  p.ignore_eos = true;
  p.stop_token_ids = {7};
  StopChecker checker = make_checker(p);
  EXPECT_THAT(checker.suppressed_token_ids(), testing::ElementsAre(kEos));
  const Outcome out = run(checker, {{1, "a"}, {kEos, "</s>"}, {1, "b"}});
  EXPECT_EQ(out.text, "ab");
  EXPECT_EQ(out.finish.reason, FinishReason::kLength);
  EXPECT_TRUE(checker.suppress_eos());
}

TEST(StopCheckerTest, MinNewTokens2048WithSampler) {
  // The failure case: EOS is the model's favourite from the first token, but
  // with min_new_tokens = 2048 it must not appear before token 2049.
  constexpr int64_t kSmallVocab = 10;
  constexpr int32_t kSmallEos = 9;
  StopParams p;
  p.eos_ids = {kSmallEos};
  p.min_new_tokens = 2048;
  p.max_new_tokens = 4096;
  Result<StopChecker> checker = StopChecker::create(p, kSmallVocab);
  ASSERT_TRUE(checker.ok());
  for (float temperature : {0.0f, 1.0f}) {
    StopChecker stop = *checker;
    SamplingParams sp;
    sp.temperature = temperature;
    sp.seed = 5;
    Result<Sampler> sampler = Sampler::create(sp, kSmallVocab);
    ASSERT_TRUE(sampler.ok());
    StepResult step;
    int64_t tokens = 0;
    while (!step.finished) {
      std::vector<float> logits = {0, 0, 0, 0, 0, 0, 0, 0, 0, 30.0f};
      Result<int32_t> token = sampler->sample(logits, stop.suppressed_token_ids());
      ASSERT_TRUE(token.ok());
      ASSERT_TRUE(sampler->accept(*token).ok());
      ++tokens;
      if (tokens <= 2048) {
        ASSERT_NE(*token, kSmallEos) << "token " << tokens;
      }
      step = stop.on_token(*token, *token == kSmallEos ? "" : "w");
    }
    EXPECT_EQ(tokens, 2049);
    EXPECT_EQ(step.finish.cause, StopCause::kEosToken);
  }
}

TEST(StopCheckerTest, FinishReleasesHeldTextWithTheCallersReason) {
  StopChecker checker = make_checker(stop_on({"STOP"}));
  EXPECT_EQ(checker.on_token(1, "a ST").text, "a ");
  const StepResult end = checker.finish(FinishReason::kAbort);
  EXPECT_EQ(end.text, "ST");
  EXPECT_TRUE(end.finished);
  EXPECT_EQ(end.finish.reason, FinishReason::kAbort);
  EXPECT_EQ(end.finish.cause, StopCause::kCaller);
  EXPECT_EQ(finish_reason_name(end.finish.reason), "abort");
  // Finished: further calls emit nothing and count nothing.
  const StepResult after = checker.on_token(1, "more");
  EXPECT_TRUE(after.finished);
  EXPECT_EQ(after.text, "");
  EXPECT_EQ(checker.num_generated_tokens(), 1);
  EXPECT_EQ(checker.finish(FinishReason::kLength).finish.reason, FinishReason::kAbort);
}

TEST(StopCheckerTest, FinishTextCanStillCompleteAStopString) {
  StopChecker checker = make_checker(stop_on({"STOP"}));
  EXPECT_EQ(checker.on_token(1, "a ST").text, "a ");
  const StepResult end = checker.finish(FinishReason::kLength, "OP!");
  EXPECT_EQ(end.text, "");
  EXPECT_EQ(end.finish.reason, FinishReason::kStop);
  EXPECT_EQ(end.finish.cause, StopCause::kStopString);
}

TEST(StopCheckerTest, FinishReasonNames) {
  EXPECT_EQ(finish_reason_name(FinishReason::kNone), "");
  EXPECT_EQ(finish_reason_name(FinishReason::kStop), "stop");
  EXPECT_EQ(finish_reason_name(FinishReason::kLength), "length");
  EXPECT_EQ(finish_reason_name(FinishReason::kAbort), "abort");
  EXPECT_EQ(stop_cause_name(StopCause::kStopString), "stop_string");
}

// Reference: the stop string that ends first in the whole text (longer on
// ties) cuts it; the checker must emit exactly that, however it is split.
std::string reference_output(const std::string& text, const std::vector<std::string>& stops) {
  for (size_t end = 1; end <= text.size(); ++end) {
    size_t best = 0;
    for (const std::string& s : stops) {
      if (s.size() <= end && s.size() > best && text.compare(end - s.size(), s.size(), s) == 0) {
        best = s.size();
      }
    }
    if (best > 0) return text.substr(0, end - best);
  }
  return text;
}

TEST(StopCheckerTest, RandomSplitsMatchReference) {
  std::mt19937 gen(3);
  auto random_string = [&](size_t max_len) {
    std::string s(std::uniform_int_distribution<size_t>(1, max_len)(gen), 'a');
    for (char& c : s) c = static_cast<char>('a' + std::uniform_int_distribution<int>(0, 2)(gen));
    return s;
  };
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::vector<std::string> stops;
    const int num_stops = std::uniform_int_distribution<int>(1, 4)(gen);
    for (int i = 0; i < num_stops; ++i) stops.push_back(random_string(5));
    const std::string text = random_string(40);
    std::vector<std::string> pieces;
    for (size_t pos = 0; pos < text.size();) {
      const size_t len = std::uniform_int_distribution<size_t>(0, 4)(gen);
      pieces.push_back(text.substr(pos, len));
      pos += len;
    }
    StopChecker checker = make_checker(stop_on(stops, 1000));
    const Outcome out = run(checker, texts(pieces));
    std::string all = out.text;
    if (out.finished_at < 0) all += checker.finish(FinishReason::kAbort).text;
    ASSERT_EQ(all, reference_output(text, stops)) << "text " << text;
  }
}

TEST(StopCheckerTest, ValidateNamesEveryBadParameter) {
  auto message = [](const StopParams& p) { return std::string(validate(p, kVocab).message()); };
  StopParams p = stop_on({});
  EXPECT_TRUE(validate(p, kVocab).ok());
  p.max_new_tokens = 0;
  EXPECT_THAT(message(p), HasSubstr("max_new_tokens must be at least 1, got 0"));
  p = stop_on({});
  p.min_new_tokens = -1;
  EXPECT_THAT(message(p), HasSubstr("min_new_tokens must be >= 0, got -1"));
  p = stop_on({}, 16);
  p.min_new_tokens = 2048;
  EXPECT_THAT(message(p), HasSubstr("min_new_tokens (2048) must not exceed max_new_tokens (16)"));
  p = stop_on(std::vector<std::string>(17, "x"));
  EXPECT_THAT(message(p), HasSubstr("at most 16 stop strings are allowed, got 17"));
  p = stop_on({"ok", ""});
  EXPECT_THAT(message(p), HasSubstr("stop string 1 is empty; remove it"));
  p = stop_on({std::string(1025, 'x')});
  EXPECT_THAT(message(p), HasSubstr("stop string 0 is 1025 bytes; at most 1024 bytes"));
  p = stop_on({"a\xff"});
  EXPECT_THAT(message(p), HasSubstr("stop string 0 is not valid UTF-8"));
  p = stop_on({});
  p.eos_ids = {kVocab};
  EXPECT_THAT(message(p), HasSubstr("eos_ids contains 100, outside the vocabulary [0, 100)"));
  p = stop_on({});
  p.stop_token_ids = {-3};
  EXPECT_THAT(message(p), HasSubstr("stop_token_ids contains -3"));
  EXPECT_EQ(StopChecker::create(p, kVocab).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(validate(stop_on({std::string(1024, 'x')}), kVocab).ok());
}

}  // namespace
}  // namespace keel::sampling
