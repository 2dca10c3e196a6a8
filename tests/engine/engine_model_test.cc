// The engine on the real stories260K model: for several concurrent greedy
// requests, token ids, streamed text and finish reasons equal what
// engine::generate() gives for each request alone — with a roomy pool, with
// a tiny pool that forces preemptions (recompute), and with stop strings.
// Skipped with a message when ../shared/models/stories260K is absent.
#include <gtest/gtest.h>

#include <algorithm>

#include "keel/engine/engine.h"
#include "keel/engine/generator.h"
#include "keel/engine/model_executor.h"
#include "model/model_test_util.h"

namespace keel::engine {
namespace {

struct RuntimeSetup {
  int64_t context = 256;
  int64_t kv_tokens = 1024;
  int64_t max_batch_tokens = 32;
  int64_t max_logit_rows = 8;
  int block_size = 4;
};

class EngineModelTest : public ::testing::Test {
 public:
  struct Case {
    std::string prompt;
    int64_t max_new;
    std::vector<std::string> stops;
  };

 protected:
  void SetUp() override {
    auto dir = keel::testing::stories260k_dir();
    if (!dir) GTEST_SKIP() << "../shared/models/stories260K is absent; nothing to check";
    dir_ = dir->string();
    auto tok = tokenizer::Tokenizer::from_path(dir_);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    tok_.emplace(*tok);
  }

  std::unique_ptr<ModelExecutor> start(const RuntimeSetup& s) {
    model::RuntimeOptions o;
    o.model_dir = dir_;
    o.model.max_batch_tokens = s.max_batch_tokens;
    o.model.max_logit_rows = s.max_logit_rows;
    o.model.max_context_tokens = s.context;
    o.max_kv_tokens = s.kv_tokens;
    o.block_size_tokens = s.block_size;
    auto rt = model::start_runtime(o, device_);
    EXPECT_TRUE(rt.ok()) << rt.status().to_string();
    return rt.ok() ? std::make_unique<ModelExecutor>(std::move(rt).value()) : nullptr;
  }

  GenerateRequest reference_request(const model::Runtime& rt, const Case& c) {
    GenerateRequest r;
    auto ids = tok_->encode(c.prompt);
    EXPECT_TRUE(ids.ok());
    r.prompt_ids.assign(ids->begin(), ids->end());
    r.sampling.temperature = 0;
    r.stop.max_new_tokens = c.max_new;
    r.stop.stop_strings = c.stops;
    r.stop.eos_ids = eos_ids(rt, *tok_);
    return r;
  }

  // generate() for each case alone, then all cases at once through the
  // engine on a runtime set up as `s`; compares everything. Returns the
  // engine's outputs.
  std::vector<RequestOutput> compare(const RuntimeSetup& s, const std::vector<Case>& cases,
                                     bool expect_preemptions) {
    std::vector<RequestOutput> outs;
    compare_into(s, cases, expect_preemptions, outs);
    return outs;
  }

  void compare_into(const RuntimeSetup& s, const std::vector<Case>& cases, bool expect_preemptions,
                    std::vector<RequestOutput>& outs) {
    std::vector<GenerateResult> want;
    {
      std::unique_ptr<ModelExecutor> ref = start(RuntimeSetup{});
      ASSERT_TRUE(ref);
      for (const Case& c : cases) {
        auto r = generate(ref->runtime(), *tok_, reference_request(ref->runtime(), c));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        want.push_back(*r);
      }
    }
    std::unique_ptr<ModelExecutor> exec = start(s);
    ASSERT_TRUE(exec);
    FakeClock clock;
    auto engine = Engine::create(*exec, EngineConfig{}, *tok_, clock);
    ASSERT_TRUE(engine.ok()) << engine.status().to_string();
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (const Case& c : cases) {
      GenerateRequest g = reference_request(exec->runtime(), c);
      EngineRequest r;
      r.prompt_ids = g.prompt_ids;
      r.sampling = g.sampling;
      r.stop = g.stop;
      r.max_new_tokens = c.max_new;
      auto stream = (*engine)->submit(std::move(r));
      ASSERT_TRUE(stream.ok()) << stream.status().to_string();
      streams.push_back(*stream);
    }
    for (int i = 0; i < 10'000 && (*engine)->has_work(); ++i) (*engine)->step();
    ASSERT_FALSE((*engine)->has_work());
    for (size_t i = 0; i < cases.size(); ++i) {
      auto out = streams[i]->collect(Deadline::after_ms(0));
      ASSERT_TRUE(out.ok()) << out.status().to_string();
      EXPECT_TRUE(out->final_info->status.ok()) << out->final_info->status.to_string();
      EXPECT_EQ(out->token_ids, want[i].token_ids) << "case " << i << ": " << cases[i].prompt;
      EXPECT_EQ(out->text, want[i].text) << "case " << i;
      EXPECT_EQ(out->final_info->finish.reason, want[i].finish.reason) << "case " << i;
      EXPECT_EQ(out->final_info->finish.cause, want[i].finish.cause) << "case " << i;
      outs.push_back(*out);
    }
    const EngineStats st = (*engine)->stats();
    if (expect_preemptions) {
      EXPECT_GT(st.num_preemptions, 0);
    } else {
      EXPECT_EQ(st.num_preemptions, 0);
    }
    engine->reset();
    EXPECT_EQ(exec->kv_pool().num_free(), exec->kv_pool().num_total());
    EXPECT_TRUE(exec->kv_pool().check_invariants().ok());
  }

  memory::CpuDevice device_{uint64_t{1} << 30};
  std::string dir_;
  std::optional<tokenizer::Tokenizer> tok_;
};

const std::vector<EngineModelTest::Case>& cases() {
  static const std::vector<EngineModelTest::Case> c = {
      {"Once upon a time, there was a little", 40, {}},
      {"The dog", 24, {}},
      {"Lily and Tom went to the park. They saw a big", 32, {}},
      {"One day", 48, {}},
      {"The sun was hot and the birds", 20, {}},
  };
  return c;
}

TEST_F(EngineModelTest, GreedyEqualsGenerateForConcurrentRequests) {
  compare(RuntimeSetup{}, cases(), /*expect_preemptions=*/false);
}

TEST_F(EngineModelTest, GreedyEqualsGenerateWhenATinyPoolForcesPreemptions) {
  RuntimeSetup tight;
  tight.context = 96;    // the planner wants the pool to hold one full-context sequence
  tight.kv_tokens = 96;  // 24 blocks of 4; the five requests need ~220 tokens together
  compare(tight, cases(), /*expect_preemptions=*/true);
}

TEST_F(EngineModelTest, GreedyEqualsGenerateWithSmallStepsAndStopStrings) {
  RuntimeSetup small;
  small.max_batch_tokens = 8;  // prompts prefill in chunks, mixed with decodes
  small.max_logit_rows = 3;    // at most three sequences per step
  std::vector<Case> c = cases();
  const std::vector<RequestOutput> plain = compare(small, c, /*expect_preemptions=*/false);
  ASSERT_EQ(plain.size(), c.size());
  ASSERT_GE(plain[0].text.size(), 12u);
  ASSERT_GE(plain[3].text.size(), 16u);
  // ASCII pieces of the unconstrained text (stories260K also writes odd
  // multi-byte characters); they likely span token boundaries.
  auto piece = [](const std::string& text, size_t from, size_t len) {
    for (size_t i = from; i + len <= text.size(); ++i) {
      const std::string p = text.substr(i, len);
      if (std::all_of(p.begin(), p.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; })) return p;
    }
    return std::string();
  };
  c[0].stops = {piece(plain[0].text, 6, 3)};
  c[3].stops = {"zzz", piece(plain[3].text, 12, 3)};
  ASSERT_FALSE(c[0].stops[0].empty());
  ASSERT_FALSE(c[3].stops[1].empty());
  const std::vector<RequestOutput> outs = compare(small, c, /*expect_preemptions=*/false);
  ASSERT_EQ(outs.size(), c.size());
  for (size_t i : {0u, 3u}) {
    EXPECT_EQ(outs[i].final_info->finish.cause, sampling::StopCause::kStopString) << i;
    EXPECT_LT(outs[i].text.size(), plain[i].text.size()) << i;
  }
}

}  // namespace
}  // namespace keel::engine
