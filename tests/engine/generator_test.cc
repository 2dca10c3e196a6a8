// generate() on the fixed-weight stories260K model (real SentencePiece-style
// tokenizer.json): greedy equals the argmax of the reference-checked forward
// pass, seeds reproduce, stops and length rules hold, and the KV pool is
// whole after every exit path.
#include "keel/engine/generator.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "keel/memory/block_table.h"
#include "model/model_test_util.h"

namespace keel::engine {
namespace {

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = keel::testing::stories260k_dir();
    if (!dir) GTEST_SKIP() << "../shared/models/stories260K is absent; nothing to check";
    dir_ = dir->string();
    auto tok = tokenizer::Tokenizer::from_path(dir_);
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    tok_.emplace(*tok);
  }

  // A runtime whose context is `context` tokens and whose pool holds `kv_tokens`.
  std::unique_ptr<model::Runtime> start(int64_t context = 256, int64_t kv_tokens = 512) {
    model::RuntimeOptions o;
    o.model_dir = dir_;
    o.model.max_batch_tokens = 8;  // prompts prefill in several chunks
    o.model.max_logit_rows = 1;
    o.model.max_context_tokens = context;
    o.max_kv_tokens = kv_tokens;
    auto rt = model::start_runtime(o, device_);
    EXPECT_TRUE(rt.ok()) << rt.status().to_string();
    return rt.ok() ? std::make_unique<model::Runtime>(std::move(rt).value()) : nullptr;
  }

  GenerateRequest request(const std::string& prompt, int64_t max_new) {
    GenerateRequest r;
    auto ids = tok_->encode(prompt);
    EXPECT_TRUE(ids.ok());
    r.prompt_ids.assign(ids->begin(), ids->end());
    r.sampling.temperature = 0;
    r.stop.max_new_tokens = max_new;
    return r;
  }

  static void expect_pool_whole(const model::Runtime& rt) {
    EXPECT_EQ(rt.kv_pool->num_free(), rt.kv_pool->num_total());
    EXPECT_TRUE(rt.kv_pool->check_invariants().ok());
  }

  memory::CpuDevice device_{uint64_t{1} << 30};
  std::string dir_;
  std::optional<tokenizer::Tokenizer> tok_;
};

TEST_F(GeneratorTest, GreedyIsTheArgmaxOfTheForwardPass) {
  auto rt = start();
  ASSERT_TRUE(rt);
  GenerateRequest req = request("Once upon a time, there was a little", 20);
  const std::vector<int32_t> prompt = req.prompt_ids;
  std::string streamed;
  auto r = generate(*rt, *tok_, req, [&](std::string_view t) { streamed += t; });
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->token_ids.size(), 20u);
  EXPECT_EQ(r->finish.reason, sampling::FinishReason::kLength);
  EXPECT_EQ(r->text, streamed);
  expect_pool_whole(*rt);

  // The same tokens by hand: whole-sequence forward, argmax of the last row.
  std::vector<int32_t> seq = prompt;
  for (size_t i = 0; i < r->token_ids.size(); ++i) {
    keel::testing::ModelHarness h(dir_);
    ASSERT_TRUE(h.status().ok());
    std::vector<float> logits = h.step({{h.new_sequence(), seq, model::LogitsWanted::kLast}});
    const auto next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    ASSERT_EQ(next, r->token_ids[i]) << "token " << i;
    seq.push_back(next);
  }
  // And the streamed text is the decode of the generated ids.
  std::vector<uint32_t> ids(r->token_ids.begin(), r->token_ids.end());
  EXPECT_EQ(*tok_->decode(ids, true), r->text);
}

TEST_F(GeneratorTest, SeedsReproduce) {
  auto rt = start();
  ASSERT_TRUE(rt);
  auto sample = [&](uint64_t seed) {
    GenerateRequest req = request("The dog", 24);
    req.sampling.temperature = 1.0f;
    req.sampling.seed = seed;
    auto r = generate(*rt, *tok_, req);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r->token_ids;
  };
  EXPECT_EQ(sample(7), sample(7));
  EXPECT_NE(sample(7), sample(8));
  expect_pool_whole(*rt);
}

TEST_F(GeneratorTest, StopStringEndsGenerationAndIsNotEmitted) {
  auto rt = start();
  ASSERT_TRUE(rt);
  auto full = generate(*rt, *tok_, request("Once upon a time", 30));
  ASSERT_TRUE(full.ok());
  ASSERT_GE(full->text.size(), 12u);
  const std::string stop = full->text.substr(6, 4);  // likely spans a token boundary
  GenerateRequest req = request("Once upon a time", 30);
  req.stop.stop_strings = {stop};
  auto r = generate(*rt, *tok_, req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish.reason, sampling::FinishReason::kStop);
  EXPECT_EQ(r->finish.cause, sampling::StopCause::kStopString);
  EXPECT_EQ(r->text, full->text.substr(0, full->text.find(stop)));
  expect_pool_whole(*rt);
}

TEST_F(GeneratorTest, MinNewTokensSuppressesEos) {
  auto rt = start();
  ASSERT_TRUE(rt);
  auto greedy = generate(*rt, *tok_, request("Once", 10));
  ASSERT_TRUE(greedy.ok());
  // Pretend the first greedy token is EOS: it ends generation at once...
  GenerateRequest req = request("Once", 10);
  req.stop.eos_ids = {greedy->token_ids[0]};
  auto stopped = generate(*rt, *tok_, req);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->token_ids.size(), 1u);
  EXPECT_EQ(stopped->finish.cause, sampling::StopCause::kEosToken);
  // ...unless min_new_tokens forbids it: then it never appears before 5 tokens.
  req.stop.min_new_tokens = 5;
  auto longer = generate(*rt, *tok_, req);
  ASSERT_TRUE(longer.ok());
  ASSERT_GE(longer->token_ids.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_NE(longer->token_ids[i], greedy->token_ids[0]);
  expect_pool_whole(*rt);
}

TEST_F(GeneratorTest, LengthRulesAgainstTheContextWindow) {
  auto rt = start(/*context=*/48, /*kv_tokens=*/48);
  ASSERT_TRUE(rt);
  GenerateRequest req = request("Once upon a time", 1000);
  const auto prompt = static_cast<int64_t>(req.prompt_ids.size());
  auto r = generate(*rt, *tok_, req);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->adjustments.size(), 1u);
  EXPECT_NE(r->adjustments[0].find("lowered from 1000 to " + std::to_string(48 - prompt)),
            std::string::npos)
      << r->adjustments[0];
  EXPECT_EQ(static_cast<int64_t>(r->token_ids.size()), 48 - prompt);
  EXPECT_EQ(r->finish.reason, sampling::FinishReason::kLength);

  GenerateRequest too_min = request("Once upon a time", 100);
  too_min.stop.min_new_tokens = 48;
  EXPECT_EQ(generate(*rt, *tok_, too_min).status().code(), StatusCode::kInvalidArgument);

  GenerateRequest too_long = request(std::string(300, 'a'), 4);
  auto e = generate(*rt, *tok_, too_long);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("context window is 48"), std::string_view::npos)
      << e.status().message();
  expect_pool_whole(*rt);
}

TEST_F(GeneratorTest, PoolTooSmallIsRefusedWithNumbers) {
  auto rt = start(/*context=*/256, /*kv_tokens=*/256);
  ASSERT_TRUE(rt);
  // Hold most of the pool in another sequence.
  memory::BlockTable other(rt->kv_pool->shape().block_size_tokens);
  ASSERT_TRUE(other.append_tokens(240, *rt->kv_pool).ok());
  GenerateRequest req = request("Once upon a time, there was a little girl", 100);
  req.stop.min_new_tokens = 100;
  auto e = generate(*rt, *tok_, req);
  // The prompt fits in the one free block; the first decode step that needs
  // another block gets ResourceExhausted from the all-or-nothing allocation:
  // an error with the numbers, never a wait.
  EXPECT_EQ(e.status().code(), StatusCode::kResourceExhausted) << e.status().to_string();
  ASSERT_TRUE(other.release(*rt->kv_pool).ok());
  expect_pool_whole(*rt);
  req.stop.min_new_tokens = 300;  // more than the whole pool or window
  EXPECT_EQ(generate(*rt, *tok_, req).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keel::engine
