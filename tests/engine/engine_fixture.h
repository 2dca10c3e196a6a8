// The fixture shared by the engine tests over the FakeExecutor and a
// FakeClock: start an engine, submit greedy requests, step until idle,
// compute the fake's expected tokens, and check the pool is whole.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "keel/engine/engine.h"
#include "keel/engine/fake_executor.h"

namespace keel::engine::testing {

using std::chrono::milliseconds;

class EngineFixture : public ::testing::Test {
 protected:
  void start(FakeExecutorOptions o = {}, EngineConfig c = {}) {
    engine_.reset();
    auto e = FakeExecutor::create(o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    exec_ = std::move(e).value();
    vocab_ = o.vocab_size;
    auto en = Engine::create(*exec_, c, std::nullopt, clock_);
    ASSERT_TRUE(en.ok()) << en.status().to_string();
    engine_ = std::move(en).value();
  }

  static EngineRequest greedy(std::vector<int32_t> prompt, std::optional<int64_t> max_new) {
    EngineRequest r;
    r.prompt_ids = std::move(prompt);
    r.sampling.temperature = 0;
    r.max_new_tokens = max_new;
    return r;
  }
  static std::vector<int32_t> prompt_of(int64_t n, int32_t salt) {
    std::vector<int32_t> p;
    for (int64_t i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((salt * 7 + i * 3) % 50));
    return p;
  }
  // What greedy decoding on the fake gives, computed without the engine.
  std::vector<int32_t> expected(std::vector<int32_t> seq, int64_t n) const {
    std::vector<int32_t> out;
    for (int64_t i = 0; i < n; ++i) {
      out.push_back(FakeExecutor::next_token(seq, vocab_));
      seq.push_back(out.back());
    }
    return out;
  }
  std::shared_ptr<RequestStream> submit(EngineRequest r) {
    auto s = engine_->submit(std::move(r));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? *s : nullptr;
  }
  // Steps until no work is left (bounded), 10 ms of fake time per step.
  int run(int max_steps = 5000) {
    int steps = 0;
    while (engine_->has_work() && steps < max_steps) {
      engine_->step();
      clock_.advance(milliseconds(10));
      ++steps;
    }
    EXPECT_FALSE(engine_->has_work()) << "still working after " << max_steps << " steps";
    return steps;
  }
  // Everything the stream holds now; the request must have ended.
  static RequestOutput result(RequestStream& s) {
    auto r = s.collect(Deadline::after_ms(0));
    EXPECT_TRUE(r.ok()) << s.id() << ": " << r.status().to_string();
    return r.ok() ? *r : RequestOutput{};
  }
  void expect_pool_whole() {
    memory::KvBlockPool& pool = exec_->kv_pool();
    EXPECT_EQ(pool.num_free(), pool.num_total());
    EXPECT_TRUE(pool.check_invariants().ok());
    EXPECT_EQ(engine_->stats().kv_blocks_used, 0);
  }

  FakeClock clock_;
  std::unique_ptr<FakeExecutor> exec_;
  std::unique_ptr<Engine> engine_;  // destroyed before exec_
  int64_t vocab_ = 64;
};

}  // namespace keel::engine::testing
