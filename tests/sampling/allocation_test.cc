// The hot path allocates nothing: sample(), accept() and on_token() after
// create(). This executable replaces the global operator new to count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "keel/sampling/sampler.h"
#include "keel/sampling/stop_checker.h"

// GCC cannot see that the replaced new and delete below pair malloc with
// free, and warns at every inlined delete in this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

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
    const long before_create = g_allocations.load();
    Result<Sampler> sampler = Sampler::create(p, kVocab);
    ASSERT_TRUE(sampler.ok());
    ASSERT_GT(g_allocations.load(), before_create);  // the counter works
    const std::vector<int32_t> prompt = {1, 2, 3, 4, 1000};
    ASSERT_TRUE(sampler->set_prompt(prompt).ok());
    const long before = g_allocations.load();
    for (int step = 0; step < 50; ++step) {
      std::copy(logits.begin(), logits.end(), work.begin());
      Result<int32_t> token = sampler->sample(work, suppress);
      if (!token.ok() || !sampler->accept(*token).ok()) FAIL();
    }
    EXPECT_EQ(g_allocations.load() - before, 0) << "config " << config;
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
  const long before = g_allocations.load();
  size_t emitted = 0;
  for (int round = 0; round < 100; ++round) {
    for (const std::string& piece : pieces) {
      const StepResult step = checker->on_token(5, piece);
      if (step.finished) FAIL();
      emitted += step.text.size();
    }
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_GT(emitted, 0u);
}

}  // namespace
}  // namespace keel::sampling
