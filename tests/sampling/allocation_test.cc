// The hot path allocates nothing: sample(), accept() and on_token() after
// create(). This executable replaces the global operator new to count.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/allocation_counter.h"
#include "keel/sampling/sampler.h"
#include "keel/sampling/stop_checker.h"

namespace keel::sampling {
namespace {

TEST(AllocationTest, SamplerHotPathDoesNotAllocate) {
  constexpr int64_t kVocab = 32000;
  std::mt19937 gen(1);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(kVocab);
  for (float& l : logits) l = normal(gen);
  std::vector<float> work(kVocab);
  const std::vector<int32_t> suppress = {2, 5};
  for (int config = 0; config < 4; ++config) {
    SamplingParams p;
    p.seed = 1;
    p.repetition_penalty = 1.1f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.1f;
    p.logit_bias = {{3, 5.0f}};
    if (config == 0) p.temperature = 0.0f;
    if (config == 1) p.top_k = 40;
    if (config == 2) p.top_p = 0.9f;
    if (config == 3) p.min_p = 0.05f;
    const long before_create = keel::testing::allocations();
    Result<Sampler> sampler = Sampler::create(p, kVocab);
    ASSERT_TRUE(sampler.ok());
    ASSERT_GT(keel::testing::allocations(), before_create);  // the counter works
    const std::vector<int32_t> prompt = {1, 2, 3, 4, 1000};
    ASSERT_TRUE(sampler->set_prompt(prompt).ok());
    const long before = keel::testing::allocations();
    for (int step = 0; step < 50; ++step) {
      std::copy(logits.begin(), logits.end(), work.begin());
      Result<int32_t> token = sampler->sample(work, suppress);
      if (!token.ok() || !sampler->accept(*token).ok()) FAIL();
    }
    EXPECT_EQ(keel::testing::allocations() - before, 0) << "config " << config;
  }
}

TEST(AllocationTest, StopCheckerHotPathDoesNotAllocate) {
  StopParams p;
  p.eos_ids = {0};
  p.stop_strings = {"</answer>", "\n\nUser:", "STOP"};
  p.max_new_tokens = 10000;
  Result<StopChecker> checker = StopChecker::create(p, 100);
  ASSERT_TRUE(checker.ok());
  const std::string pieces[] = {"Hello", " world", ",", " this", " is", " <", "/ans", "wer",
                                "\n", "\n", "Use", " S", "TO", "CK"};
  const long before = keel::testing::allocations();
  size_t emitted = 0;
  for (int round = 0; round < 100; ++round) {
    for (const std::string& piece : pieces) {
      const StepResult step = checker->on_token(5, piece);
      if (step.finished) FAIL();
      emitted += step.text.size();
    }
  }
  EXPECT_EQ(keel::testing::allocations() - before, 0);
  EXPECT_GT(emitted, 0u);
}

}  // namespace
}  // namespace keel::sampling
