#include "keel/sampling/sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace keel::sampling {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();

Sampler make_sampler(const SamplingParams& params, int64_t vocab_size) {
  Result<Sampler> sampler = Sampler::create(params, vocab_size);
  KEEL_CHECK(sampler.ok()) << sampler.status().to_string();
  return std::move(sampler).value();
}

SamplingParams with_seed(uint64_t seed) {
  SamplingParams p;
  p.seed = seed;
  return p;
}

std::vector<float> log_probs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

int32_t sample_copy(Sampler& sampler, std::vector<float> logits, double u,
                    std::span<const int32_t> suppress = {}) {
  Result<int32_t> token = sampler.sample_at(logits, suppress, u);
  KEEL_CHECK(token.ok()) << token.status().to_string();
  return *token;
}

// Fraction of u in [0, 1) (midpoints of `steps` cells) that picks each token:
// exactly the distribution the sampler draws from, up to 1 / steps.
std::map<int32_t, double> sweep(Sampler& sampler, const std::vector<float>& logits,
                                int steps = 20000) {
  std::map<int32_t, double> fractions;
  for (int i = 0; i < steps; ++i) {
    fractions[sample_copy(sampler, logits, (i + 0.5) / steps)] += 1.0 / steps;
  }
  return fractions;
}

void expect_distribution(const std::map<int32_t, double>& actual,
                         const std::map<int32_t, double>& expected) {
  std::set<int32_t> actual_ids, expected_ids;
  for (const auto& [id, p] : actual) actual_ids.insert(id);
  for (const auto& [id, p] : expected) expected_ids.insert(id);
  EXPECT_EQ(actual_ids, expected_ids);
  for (const auto& [id, p] : expected) {
    auto it = actual.find(id);
    if (it != actual.end()) {
      EXPECT_NEAR(it->second, p, 2e-4) << "token " << id;
    }
  }
}

// ---------------------------------------------------------------- greedy

TEST(SamplerTest, GreedyPicksArgmaxLowestIdOnTie) {
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler sampler = make_sampler(p, 5);
  EXPECT_TRUE(sampler.greedy());
  EXPECT_EQ(sampler.scratch_bytes(), 0u);
  std::vector<float> logits = {1.0f, 3.0f, -kInf, 3.0f, 2.0f};
  Result<int32_t> token = sampler.sample(logits);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, 1);
  // Greedy leaves the logits unnormalised.
  EXPECT_THAT(logits, ElementsAre(1.0f, 3.0f, -kInf, 3.0f, 2.0f));
}

TEST(SamplerTest, TemperatureNearZeroIsArgmax) {
  SamplingParams p = with_seed(3);
  p.temperature = 1e-3f;
  Sampler sampler = make_sampler(p, 4);
  EXPECT_FALSE(sampler.greedy());
  const std::vector<float> logits = {1.0f, 2.0f, 1.9f, -5.0f};
  for (int i = 0; i < 1000; ++i) {
    std::vector<float> copy = logits;
    Result<int32_t> token = sampler.sample(copy);
    ASSERT_TRUE(token.ok());
    ASSERT_EQ(*token, 1);
  }
  // Even the last u below 1 stays on the argmax: e^-100 is no mass.
  EXPECT_EQ(sample_copy(sampler, logits, 1.0 - 1e-12), 1);
}

TEST(SamplerTest, TemperatureScalesShiftedLogits) {
  SamplingParams p;
  p.temperature = 0.5f;
  Sampler sampler = make_sampler(p, 3);
  std::vector<float> logits = {1.0f, 2.0f, -kInf};
  ASSERT_TRUE(sampler.sample_at(logits, {}, 0.5).ok());
  EXPECT_THAT(logits, ElementsAre(-2.0f, 0.0f, -kInf));
  // T = 0.5 squares the probabilities (renormalised).
  Sampler two = make_sampler(p, 2);
  expect_distribution(sweep(two, log_probs({0.75, 0.25})),
                      {{0, 0.9}, {1, 0.1}});
}

TEST(SamplerTest, TopK1EqualsGreedy) {
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(5000);
  for (float& l : logits) l = normal(gen);
  const auto max_it = std::max_element(logits.begin(), logits.end());
  logits[4000] = *max_it;  // a tie after the first maximum
  SamplingParams greedy_params;
  greedy_params.temperature = 0.0f;
  Sampler greedy = make_sampler(greedy_params, 5000);
  const int32_t argmax = sample_copy(greedy, logits, 0.0);
  EXPECT_EQ(argmax, static_cast<int32_t>(max_it - logits.begin()));
  SamplingParams top1;
  top1.top_k = 1;
  top1.temperature = 1.5f;
  Sampler sampler = make_sampler(top1, 5000);
  for (double u : {0.0, 0.3, 0.999999}) EXPECT_EQ(sample_copy(sampler, logits, u), argmax);
}

// ---------------------------------------------------------------- truncation

// Probabilities placed at shuffled ids, so sorting matters:
// id 3: 0.5, id 0: 0.25, id 4: 0.15, id 1: 0.06, id 2: 0.04.
const std::vector<double> kShuffled = {0.25, 0.06, 0.04, 0.5, 0.15};

TEST(SamplerTest, TopKKeepsTheKMostLikely) {
  SamplingParams p;
  p.top_k = 3;
  Sampler sampler = make_sampler(p, 5);
  expect_distribution(sweep(sampler, log_probs(kShuffled)),
                      {{3, 0.5 / 0.9}, {0, 0.25 / 0.9}, {4, 0.15 / 0.9}});
}

TEST(SamplerTest, TopPKeepsSmallestSetReachingP) {
  SamplingParams p;
  // Cumulative in order: 0.5, 0.75, 0.9, 0.96, 1.0.
  p.top_p = 0.74f;
  Sampler two = make_sampler(p, 5);
  expect_distribution(sweep(two, log_probs(kShuffled)), {{3, 0.5 / 0.75}, {0, 0.25 / 0.75}});
  p.top_p = 0.76f;
  Sampler three = make_sampler(p, 5);
  expect_distribution(sweep(three, log_probs(kShuffled)),
                      {{3, 0.5 / 0.9}, {0, 0.25 / 0.9}, {4, 0.15 / 0.9}});
  p.top_p = 0.3f;
  Sampler one = make_sampler(p, 5);
  expect_distribution(sweep(one, log_probs(kShuffled)), {{3, 1.0}});
}

TEST(SamplerTest, TopPIsTakenOfTheTopKSet) {
  SamplingParams p;
  p.top_k = 3;
  // Renormalised top-3: 0.556, 0.278, 0.167; cumulative 0.556, 0.833.
  p.top_p = 0.8f;
  Sampler sampler = make_sampler(p, 5);
  expect_distribution(sweep(sampler, log_probs(kShuffled)), {{3, 2.0 / 3}, {0, 1.0 / 3}});
}

TEST(SamplerTest, MinPDropsTokensBelowFractionOfMax) {
  SamplingParams p;
  p.min_p = 0.2f;  // threshold 0.1: keeps 0.5, 0.25, 0.15
  Sampler untruncated = make_sampler(p, 5);
  const std::map<int32_t, double> expected = {{3, 0.5 / 0.9}, {0, 0.25 / 0.9}, {4, 0.15 / 0.9}};
  expect_distribution(sweep(untruncated, log_probs(kShuffled)), expected);
  p.top_k = 4;  // the sorted path gives the same set
  Sampler with_top_k = make_sampler(p, 5);
  expect_distribution(sweep(with_top_k, log_probs(kShuffled)), expected);
  p.top_k = 0;
  p.min_p = 1.0f;  // only the maximum survives
  Sampler only_max = make_sampler(p, 5);
  expect_distribution(sweep(only_max, log_probs(kShuffled)), {{3, 1.0}});
}

TEST(SamplerTest, MinPIsAppliedAfterTopPAsHf) {
  // HF: top-p on the full distribution keeps {0, 1} (0.45 < 0.55 <= 0.8),
  // then min-p (threshold 0.225) keeps both. vLLM v1 applies min-p first,
  // renormalises to {0.5625, 0.4375} and top-p would keep only {0}.
  SamplingParams p;
  p.top_p = 0.55f;
  p.min_p = 0.5f;
  Sampler sampler = make_sampler(p, 3);
  expect_distribution(sweep(sampler, log_probs({0.45, 0.35, 0.2})),
                      {{0, 0.45 / 0.8}, {1, 0.35 / 0.8}});
  p.top_p = 0.9f;  // keeps all three; min-p then drops id 2 (0.2 < 0.225)
  Sampler both = make_sampler(p, 3);
  expect_distribution(sweep(both, log_probs({0.45, 0.35, 0.2})),
                      {{0, 0.45 / 0.8}, {1, 0.35 / 0.8}});
}

// ---------------------------------------------------------------- penalties and bias

TEST(SamplerTest, PenaltiesMatchHandComputedValues) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  Sampler sampler = make_sampler(p, 7);
  const std::vector<int32_t> prompt = {0, 3, 6};
  ASSERT_TRUE(sampler.set_prompt(prompt).ok());
  for (int32_t t : {1, 1, 4}) ASSERT_TRUE(sampler.accept(t).ok());
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, -3.0f, 1.0f, 0.0f, 0.0f};
  ASSERT_TRUE(sampler.process(logits).ok());
  // id 0 (prompt, > 0): 2 / 2. id 1 (output twice, <= 0): -1 * 2 - 0.5 * 2 - 0.25.
  // id 2: unseen. id 3 (prompt, < 0): -3 * 2. id 4 (output once): 1 / 2 - 0.5 - 0.25.
  // id 5: unseen. id 6 (prompt, 0): 0 * 2.
  EXPECT_THAT(logits, ElementsAre(1.0f, -3.25f, 0.5f, -6.0f, -0.25f, 0.0f, 0.0f));
}

TEST(SamplerTest, PenaltiesMatchReferenceFormula) {
  // Reference: vLLM apply_penalties, written out per token.
  SamplingParams p;
  p.repetition_penalty = 1.3f;
  p.frequency_penalty = -0.7f;
  p.presence_penalty = 1.1f;
  constexpr int kVocab = 50;
  Sampler sampler = make_sampler(p, kVocab);
  std::mt19937 gen(5);
  std::uniform_int_distribution<int32_t> id(0, kVocab - 1);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<int32_t> prompt(20), output(30);
  for (int32_t& t : prompt) t = id(gen);
  for (int32_t& t : output) t = id(gen);
  ASSERT_TRUE(sampler.set_prompt(prompt).ok());
  for (int32_t t : output) ASSERT_TRUE(sampler.accept(t).ok());
  std::vector<float> logits(kVocab);
  for (float& l : logits) l = normal(gen);
  std::vector<float> expected = logits;
  for (int32_t t = 0; t < kVocab; ++t) {
    const auto count = static_cast<float>(std::count(output.begin(), output.end(), t));
    const bool in_prompt = std::find(prompt.begin(), prompt.end(), t) != prompt.end();
    float& e = expected[static_cast<size_t>(t)];
    if (in_prompt || count > 0) e = e > 0 ? e / 1.3f : e * 1.3f;
    if (count > 0) e = e - (-0.7f * count) - 1.1f;
  }
  ASSERT_TRUE(sampler.process(logits).ok());
  for (int t = 0; t < kVocab; ++t) EXPECT_FLOAT_EQ(logits[t], expected[t]) << "token " << t;
}

TEST(SamplerTest, SetPromptReplacesThePreviousPrompt) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  Sampler sampler = make_sampler(p, 4);
  ASSERT_TRUE(sampler.set_prompt(std::vector<int32_t>{0, 1}).ok());
  ASSERT_TRUE(sampler.accept(1).ok());
  ASSERT_TRUE(sampler.set_prompt(std::vector<int32_t>{2}).ok());
  std::vector<float> logits = {4.0f, 4.0f, 4.0f, 4.0f};
  ASSERT_TRUE(sampler.process(logits).ok());
  EXPECT_THAT(logits, ElementsAre(4.0f, 2.0f, 2.0f, 4.0f));  // 0 forgotten, 1 in output
  const Status bad = sampler.set_prompt(std::vector<int32_t>{3, 9});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("prompt token 9 (at position 1)"));
  logits = {4.0f, 4.0f, 4.0f, 4.0f};
  ASSERT_TRUE(sampler.process(logits).ok());
  EXPECT_THAT(logits, ElementsAre(4.0f, 2.0f, 2.0f, 4.0f));  // unchanged by the failed call
}

TEST(SamplerTest, FrequencyAndPresenceIgnoreThePrompt) {
  SamplingParams p;
  p.frequency_penalty = 1.0f;
  p.presence_penalty = 1.0f;
  Sampler sampler = make_sampler(p, 3);
  ASSERT_TRUE(sampler.set_prompt(std::vector<int32_t>{0, 0, 1}).ok());
  ASSERT_TRUE(sampler.accept(2).ok());
  std::vector<float> logits = {0.0f, 0.0f, 0.0f};
  ASSERT_TRUE(sampler.process(logits).ok());
  EXPECT_THAT(logits, ElementsAre(0.0f, 0.0f, -2.0f));
}

TEST(SamplerTest, LogitBiasIsAddedFirstAndRepeatsAdd) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.logit_bias = {{2, 1.0f}, {2, 1.5f}, {0, -100.0f}};
  p.repetition_penalty = 2.0f;  // applied after the bias: (0.5 + 2.5) / 2
  Sampler sampler = make_sampler(p, 3);
  ASSERT_TRUE(sampler.accept(2).ok());
  std::vector<float> logits = {5.0f, 1.0f, 0.5f};
  Result<int32_t> token = sampler.sample(logits);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, 2);
  EXPECT_THAT(logits, ElementsAre(-95.0f, 1.0f, 1.5f));
}

// ---------------------------------------------------------------- randomness

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferentTokens) {
  std::mt19937 gen(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> logits(64);
  for (float& l : logits) l = normal(gen);
  SamplingParams p = with_seed(1234);
  p.top_p = 0.95f;
  p.frequency_penalty = 0.1f;  // history-dependent: accept() matters too
  auto run = [&](const SamplingParams& params) {
    Sampler sampler = make_sampler(params, 64);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 200; ++i) {
      std::vector<float> copy = logits;
      Result<int32_t> token = sampler.sample(copy);
      KEEL_CHECK(token.ok());
      KEEL_CHECK(sampler.accept(*token).ok());
      tokens.push_back(*token);
    }
    return tokens;
  };
  const std::vector<int32_t> first = run(p);
  EXPECT_EQ(run(p), first);
  p.seed = 1235;
  EXPECT_NE(run(p), first);
  // Pinned: the stream must not change across versions and platforms.
  p.seed = 2024;
  const std::vector<int32_t> pinned = run(p);
  EXPECT_THAT(std::vector<int32_t>(pinned.begin(), pinned.begin() + 10),
              ElementsAre(17, 16, 37, 42, 25, 29, 55, 57, 53, 17));
}

TEST(SamplerTest, UnseededSamplersGetDifferentSeeds) {
  Sampler a = make_sampler(SamplingParams{}, 8);
  Sampler b = make_sampler(SamplingParams{}, 8);
  EXPECT_NE(a.seed(), b.seed());
  EXPECT_EQ(make_sampler(with_seed(77), 8).seed(), 77u);
}

// Pearson's chi-square of `draws` tokens against `probs`.
double chi_square(Sampler& sampler, const std::vector<float>& logits,
                  const std::vector<double>& probs, int draws) {
  std::vector<int> counts(probs.size(), 0);
  for (int i = 0; i < draws; ++i) {
    std::vector<float> copy = logits;
    Result<int32_t> token = sampler.sample(copy);
    KEEL_CHECK(token.ok());
    ++counts[static_cast<size_t>(*token)];
  }
  double chi2 = 0.0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i;
      continue;
    }
    const double expected = probs[i] * draws;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return chi2;
}

TEST(SamplerTest, FrequenciesMatchTheDistribution) {
  constexpr int kDraws = 20000;
  const std::vector<double> probs = {0.4, 0.3, 0.15, 0.1, 0.05};
  // Critical values at significance 0.001: 4 degrees of freedom 18.47,
  // 2 degrees 13.82. Fixed seeds make the outcome deterministic.
  Sampler plain = make_sampler(with_seed(7), 5);
  EXPECT_LT(chi_square(plain, log_probs(probs), probs, kDraws), 18.47);

  SamplingParams p = with_seed(8);
  p.top_k = 3;
  Sampler top_k = make_sampler(p, 5);
  EXPECT_LT(chi_square(top_k, log_probs(probs), {0.4 / 0.85, 0.3 / 0.85, 0.15 / 0.85, 0, 0},
                       kDraws),
            13.82);

  p = with_seed(9);
  p.temperature = 0.5f;  // p^2 renormalised
  p.top_p = 0.995f;      // keeps all five: the first four sum to 0.9912
  Sampler sharp = make_sampler(p, 5);
  std::vector<double> squared;
  double sum = 0.0;
  for (double q : probs) sum += q * q;
  for (double q : probs) squared.push_back(q * q / sum);
  EXPECT_LT(chi_square(sharp, log_probs(probs), squared, kDraws), 18.47);
}

// ---------------------------------------------------------------- suppression and errors

TEST(SamplerTest, SuppressedIdsAreNeverSampled) {
  Sampler sampler = make_sampler(with_seed(1), 3);
  const std::vector<int32_t> suppress = {1};
  for (int i = 0; i < 200; ++i) {
    std::vector<float> logits = {0.0f, 5.0f, 0.0f};
    Result<int32_t> token = sampler.sample(logits, suppress);
    ASSERT_TRUE(token.ok());
    ASSERT_NE(*token, 1);
    ASSERT_EQ(logits[1], -kInf);
  }
}

TEST(SamplerTest, NothingSamplableIsFailedPreconditionForEveryMode) {
  const std::vector<int32_t> all = {0, 1, 2};
  for (float temperature : {0.0f, 1.0f}) {
    for (int32_t top_k : {0, 2}) {
      SamplingParams p = with_seed(1);
      p.temperature = temperature;
      p.top_k = top_k;
      p.top_p = 0.9f;
      Sampler sampler = make_sampler(p, 3);
      std::vector<float> logits = {1.0f, 2.0f, 3.0f};
      Result<int32_t> suppressed = sampler.sample(logits, all);
      EXPECT_EQ(suppressed.status().code(), StatusCode::kFailedPrecondition);
      EXPECT_THAT(std::string(suppressed.status().message()), HasSubstr("nothing can be sampled"));
      std::vector<float> minus_inf = {-kInf, -kInf, -kInf};
      EXPECT_EQ(sampler.sample(minus_inf).status().code(), StatusCode::kFailedPrecondition);
    }
  }
}

TEST(SamplerTest, InvalidLogitsAreInternalErrors) {
  Sampler sampler = make_sampler(with_seed(1), 3);
  std::vector<float> nan = {0.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
  const Status st = sampler.sample(nan).status();
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_THAT(std::string(st.message()), HasSubstr("the logit of token 1 is nan"));
  std::vector<float> inf = {0.0f, 1.0f, kInf};
  EXPECT_EQ(sampler.sample(inf).status().code(), StatusCode::kInternal);
}

TEST(SamplerTest, BadArgumentsAreInvalidArgument) {
  Sampler sampler = make_sampler(with_seed(1), 3);
  std::vector<float> short_logits = {0.0f, 1.0f};
  EXPECT_THAT(std::string(sampler.sample(short_logits).status().message()),
              HasSubstr("logits has 2 entries but the sampler was created for a vocabulary of 3"));
  std::vector<float> logits = {0.0f, 1.0f, 2.0f};
  const std::vector<int32_t> bad = {3};
  EXPECT_THAT(std::string(sampler.sample(logits, bad).status().message()),
              HasSubstr("suppressed token 3 is outside the vocabulary [0, 3)"));
  EXPECT_EQ(sampler.sample_at(logits, {}, 1.0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sampler.accept(-1).code(), StatusCode::kInvalidArgument);
  SamplingParams p;
  p.top_p = 2.0f;
  EXPECT_EQ(Sampler::create(p, 3).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- against a reference

// A straightforward implementation: sort everything, cut, walk. Built once
// per logits; choose(u) walks the kept tokens.
class Reference {
 public:
  Reference(const std::vector<float>& processed, const SamplingParams& p) {
    const auto vocab = static_cast<int32_t>(processed.size());
    const bool top_k = p.top_k > 0 && p.top_k < vocab;
    const bool top_p = p.top_p < 1.0f;
    if (!top_k && !top_p) {  // walk in id order
      for (int32_t i = 0; i < vocab; ++i) {
        const float w = std::exp(processed[static_cast<size_t>(i)]);
        if (w >= p.min_p) kept_total_ += w;
        if (w >= p.min_p && w > 0.0f) kept_.push_back({w, i});
      }
      return;
    }
    struct Cand {
      float logit, weight;
      int32_t id;
    };
    std::vector<Cand> cands;
    for (int32_t i = 0; i < vocab; ++i) {
      const float l = processed[static_cast<size_t>(i)];
      if (l > -kInf) cands.push_back({l, std::exp(l), i});
    }
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) {
      return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    });
    double total = 0.0;
    if (top_k) {
      cands.resize(std::min(cands.size(), static_cast<size_t>(p.top_k)));
      for (const Cand& c : cands) total += c.weight;
    } else {
      for (float l : processed) {
        if (l > -kInf) total += std::exp(l);
      }
    }
    size_t kept = cands.size();
    if (top_p) {
      double cumulative = 0.0;
      for (size_t j = 0; j < cands.size(); ++j) {
        cumulative += cands[j].weight;
        if (cumulative >= static_cast<double>(p.top_p) * total) {
          kept = j + 1;
          break;
        }
      }
    }
    if (p.min_p > 0.0f) {
      size_t j = 1;
      while (j < kept && cands[j].weight >= p.min_p) ++j;
      kept = j;
    }
    for (size_t j = 0; j < kept; ++j) {
      kept_total_ += cands[j].weight;
      if (cands[j].weight > 0.0f) kept_.push_back({cands[j].weight, cands[j].id});
    }
  }

  int32_t choose(double u) const {
    double cumulative = 0.0;
    for (const auto& [weight, id] : kept_) {
      cumulative += weight;
      if (u * kept_total_ < cumulative) return id;
    }
    return kept_.back().second;
  }

  size_t num_kept() const { return kept_.size(); }

 private:
  std::vector<std::pair<float, int32_t>> kept_;  // in walk order
  double kept_total_ = 0.0;
};

void expect_matches_reference(const std::vector<float>& logits, const SamplingParams& p,
                              int num_u) {
  Sampler sampler = make_sampler(p, static_cast<int64_t>(logits.size()));
  std::vector<float> processed = logits;
  ASSERT_TRUE(sampler.sample_at(processed, {}, 0.5).ok());
  const Reference reference(processed, p);
  for (int i = 0; i < num_u; ++i) {
    const double u = (i + 0.37) / num_u;
    ASSERT_EQ(sample_copy(sampler, logits, u), reference.choose(u))
        << "u=" << u << " top_k=" << p.top_k << " top_p=" << p.top_p << " min_p=" << p.min_p
        << " kept=" << reference.num_kept();
  }
}

TEST(SamplerTest, LargeVocabularyMatchesReference) {
  // A Qwen-sized vocabulary with a model-like shape: a head of 30 likely
  // tokens (some tied) over a long tail.
  constexpr size_t kVocab = 152064;
  std::mt19937 gen(42);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(kVocab);
  for (float& l : logits) l = normal(gen);
  for (size_t i = 0; i < 30; ++i) logits[(i * 7919) % kVocab] = 14.0f + normal(gen) / 2;
  logits[100] = logits[0];
  logits[5] = -kInf;
  struct Config {
    int32_t top_k;
    float top_p, min_p, temperature;
  };
  // At temperature 2.5 the tail holds most of the mass, so the nucleus has
  // tens of thousands of tokens.
  for (const Config& c :
       {Config{0, 1.0f, 0.0f, 0.8f}, Config{50, 1.0f, 0.0f, 0.8f}, Config{0, 0.9f, 0.0f, 0.8f},
        Config{0, 0.99f, 0.0f, 0.8f}, Config{40, 0.95f, 0.02f, 0.8f},
        Config{0, 0.95f, 0.05f, 0.8f}, Config{0, 1.0f, 0.1f, 0.8f},
        Config{2000, 0.999f, 0.0f, 0.8f}, Config{0, 0.9f, 0.0f, 2.5f},
        Config{5000, 0.5f, 0.0f, 2.5f}}) {
    SamplingParams p;
    p.temperature = c.temperature;
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    expect_matches_reference(logits, p, 16);
  }
}

TEST(SamplerTest, RandomSmallCasesMatchReference) {
  std::mt19937 gen(9);
  std::uniform_int_distribution<int32_t> vocab_dist(1, 300);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int iteration = 0; iteration < 300; ++iteration) {
    const int32_t vocab = vocab_dist(gen);
    std::normal_distribution<float> normal(0.0f, 0.5f + 4.0f * unit(gen));
    std::vector<float> logits(static_cast<size_t>(vocab));
    for (float& l : logits) l = std::round(normal(gen) * 4) / 4;  // many ties
    SamplingParams p;
    p.temperature = 0.3f + 1.5f * unit(gen);
    p.top_k = unit(gen) < 0.5f ? std::uniform_int_distribution<int32_t>(1, vocab + 5)(gen) : 0;
    p.top_p = unit(gen) < 0.6f ? 0.05f + 0.95f * unit(gen) : 1.0f;
    p.min_p = unit(gen) < 0.4f ? 0.5f * unit(gen) : 0.0f;
    expect_matches_reference(logits, p, 16);
  }
}

}  // namespace
}  // namespace keel::sampling
