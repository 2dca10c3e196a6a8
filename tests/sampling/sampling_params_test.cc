#include "keel/sampling/sampling_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

namespace keel::sampling {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kVocab = 1000;

void expect_invalid(const std::function<void(SamplingParams&)>& mutate,
                    const std::string& message) {
  SamplingParams params;
  mutate(params);
  const Status st = validate(params, kVocab);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << message;
  EXPECT_THAT(std::string(st.message()), HasSubstr(message));
}

TEST(SamplingParamsTest, DefaultsAreValid) {
  EXPECT_TRUE(validate(SamplingParams{}, kVocab).ok());
  EXPECT_FALSE(is_greedy(SamplingParams{}));
}

TEST(SamplingParamsTest, BoundaryValuesAreValid) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.top_k = -1;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.repetition_penalty = 1e-3f;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.logit_bias = {{0, -100.0f}, {kVocab - 1, 100.0f}};
  p.seed = 0;
  EXPECT_TRUE(validate(p, kVocab).ok());
  EXPECT_TRUE(is_greedy(p));
  p.top_k = 5000;  // larger than the vocabulary: clamped, not an error
  EXPECT_TRUE(validate(p, kVocab).ok());
}

TEST(SamplingParamsTest, GreedyBelowEpsilon) {
  SamplingParams p;
  p.temperature = 0.5e-5f;
  EXPECT_TRUE(is_greedy(p));
  p.temperature = 1e-4f;
  EXPECT_FALSE(is_greedy(p));
}

TEST(SamplingParamsTest, RejectsBadVocabSize) {
  EXPECT_THAT(std::string(validate(SamplingParams{}, 0).message()),
              HasSubstr("vocab_size must be in [1, 2147483647], got 0"));
  EXPECT_FALSE(validate(SamplingParams{}, int64_t{1} << 31).ok());
}

TEST(SamplingParamsTest, RejectsEveryBadField) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  expect_invalid([](SamplingParams& p) { p.temperature = -0.5f; },
                 "temperature must be a finite number >= 0 (0 = greedy), got -0.5");
  expect_invalid([&](SamplingParams& p) { p.temperature = nan; }, "temperature must be");
  expect_invalid([&](SamplingParams& p) { p.temperature = inf; }, "got inf");
  expect_invalid([](SamplingParams& p) { p.top_k = -2; },
                 "top_k must be -1 or 0 (off) or at least 1, got -2");
  expect_invalid([](SamplingParams& p) { p.top_p = 1.5f; },
                 "top_p must be in (0, 1] (1 = off), got 1.5");
  expect_invalid([](SamplingParams& p) { p.top_p = 0.0f; }, "top_p must be in (0, 1]");
  expect_invalid([&](SamplingParams& p) { p.top_p = nan; }, "top_p must be in (0, 1]");
  expect_invalid([](SamplingParams& p) { p.min_p = -0.1f; },
                 "min_p must be in [0, 1] (0 = off), got -0.1");
  expect_invalid([](SamplingParams& p) { p.min_p = 1.01f; }, "min_p must be in [0, 1]");
  expect_invalid([](SamplingParams& p) { p.repetition_penalty = 0.0f; },
                 "repetition_penalty must be a finite number > 0 (1 = off), got 0");
  expect_invalid([&](SamplingParams& p) { p.repetition_penalty = inf; },
                 "repetition_penalty must be");
  expect_invalid([](SamplingParams& p) { p.presence_penalty = 2.5f; },
                 "presence_penalty must be in [-2, 2] (0 = off), got 2.5");
  expect_invalid([&](SamplingParams& p) { p.presence_penalty = nan; },
                 "presence_penalty must be in [-2, 2]");
  expect_invalid([](SamplingParams& p) { p.frequency_penalty = -3.0f; },
                 "frequency_penalty must be in [-2, 2] (0 = off), got -3");
  expect_invalid([](SamplingParams& p) { p.logit_bias = {{kVocab, 1.0f}}; },
                 "logit_bias token id 1000 is outside the vocabulary [0, 1000)");
  expect_invalid([](SamplingParams& p) { p.logit_bias = {{-1, 1.0f}}; },
                 "logit_bias token id -1 is outside");
  expect_invalid([](SamplingParams& p) { p.logit_bias = {{7, 100.5f}}; },
                 "logit_bias for token 7 must be in [-100, 100], got 100.5");
  expect_invalid([&](SamplingParams& p) { p.logit_bias = {{7, nan}}; },
                 "logit_bias for token 7 must be in [-100, 100]");
}

}  // namespace
}  // namespace keel::sampling
