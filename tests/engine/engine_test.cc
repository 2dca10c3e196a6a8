// The engine over the scripted FakeExecutor and a FakeClock: outputs equal
// the fake's greedy sequence (also through preemption), every way a request
// can end frees its blocks, refusals are immediate and typed, and the pool is
// whole after every scenario. No timing asserts.
#include "keel/engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "keel/engine/fake_executor.h"
#include "engine/engine_fixture.h"
#include "keel/memory/fault_injector.h"

namespace keel::engine {
namespace {

using std::chrono::milliseconds;
using sampling::FinishReason;

class EngineTest : public testing::EngineFixture {};

TEST_F(EngineTest, ManyMixedRequestsCompleteWithTheExpectedTokens) {
  start();
  std::vector<std::shared_ptr<RequestStream>> streams;
  std::vector<std::vector<int32_t>> want;
  for (int i = 0; i < 12; ++i) {
    const int64_t prompt = 1 + i * 3;
    const int64_t max_new = 1 + (i * 5) % 17;
    want.push_back(expected(prompt_of(prompt, i), max_new));
    streams.push_back(submit(greedy(prompt_of(prompt, i), max_new)));
  }
  run();
  int64_t generated = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    RequestOutput out = result(*streams[i]);
    ASSERT_TRUE(out.finished());
    EXPECT_TRUE(out.final_info->status.ok());
    EXPECT_EQ(out.token_ids, want[i]) << "request " << i;
    EXPECT_EQ(out.final_info->finish.reason, FinishReason::kLength);
    EXPECT_EQ(out.final_info->finish.cause, sampling::StopCause::kMaxNewTokens);
    EXPECT_EQ(out.final_info->keel_reason, KeelReason::kNone);
    EXPECT_EQ(out.final_info->usage.prompt_tokens, 1 + static_cast<int64_t>(i) * 3);
    EXPECT_EQ(out.final_info->usage.completion_tokens, static_cast<int64_t>(want[i].size()));
    generated += static_cast<int64_t>(want[i].size());
  }
  // One forward call mixes prefill chunks and decode tokens.
  bool mixed = false;
  for (const auto& step : exec_->steps()) {
    bool prefill = false, decode = false;
    for (const FakeSeqRecord& s : step) (s.num_tokens > 1 ? prefill : decode) = true;
    mixed = mixed || (prefill && decode);
  }
  EXPECT_TRUE(mixed);
  const EngineStats st = engine_->stats();
  EXPECT_EQ(st.num_finished_by_reason[static_cast<size_t>(FinishReason::kLength)], 12);
  EXPECT_EQ(st.num_generation_tokens, generated);
  EXPECT_EQ(st.num_preemptions, 0);
  EXPECT_EQ(st.num_running + st.num_waiting, 0);
  expect_pool_whole();
}

TEST_F(EngineTest, PreemptionUnderATinyPoolKeepsOutputsExact) {
  FakeExecutorOptions o;
  o.num_blocks = 10;  // 40 tokens; each request grows to 30
  EngineConfig c;
  c.admission_headroom_tokens = 4;
  start(o, c);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(submit(greedy(prompt_of(6, i), 24)));
  run();
  int64_t preemptions = 0;
  for (int i = 0; i < 4; ++i) {
    RequestOutput out = result(*streams[static_cast<size_t>(i)]);
    ASSERT_TRUE(out.finished());
    EXPECT_TRUE(out.final_info->status.ok());
    EXPECT_EQ(out.token_ids, expected(prompt_of(6, i), 24)) << "request " << i;
    preemptions += out.final_info->usage.num_preemptions;
  }
  EXPECT_GT(preemptions, 0);
  EXPECT_EQ(engine_->stats().num_preemptions, preemptions);
  expect_pool_whole();
}

TEST_F(EngineTest, SeededSamplingIsUnchangedByPreemption) {
  auto sample_all = [&](int64_t num_blocks) {
    FakeExecutorOptions o;
    o.num_blocks = num_blocks;
    start(o);
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (int i = 0; i < 4; ++i) {
      EngineRequest r = greedy(prompt_of(6, i), 24);
      r.sampling.temperature = 1.5f;
      r.sampling.seed = 100 + static_cast<uint64_t>(i);
      streams.push_back(submit(r));
    }
    run();
    std::vector<std::vector<int32_t>> out;
    for (auto& s : streams) out.push_back(result(*s).token_ids);
    expect_pool_whole();
    return std::make_pair(out, engine_->stats().num_preemptions);
  };
  auto [roomy, no_preemptions] = sample_all(64);
  auto [tight, preemptions] = sample_all(10);
  EXPECT_EQ(no_preemptions, 0);
  EXPECT_GT(preemptions, 0);
  EXPECT_EQ(roomy, tight);
}

TEST_F(EngineTest, CancelMidPrefillFreesTheBlocksWithinOneStep) {
  FakeExecutorOptions o;
  o.max_batch_tokens = 8;
  start(o);
  auto s = submit(greedy(prompt_of(30, 1), 10));
  engine_->step();  // the first 8-token chunk
  EXPECT_GT(engine_->stats().kv_blocks_used, 0);
  ASSERT_TRUE(engine_->cancel(s->id()).ok());
  engine_->step();
  expect_pool_whole();
  RequestOutput out = result(*s);
  EXPECT_TRUE(out.final_info->status.ok());
  EXPECT_EQ(out.final_info->finish.reason, FinishReason::kAbort);
  EXPECT_EQ(out.final_info->keel_reason, KeelReason::kCancelled);
  EXPECT_TRUE(out.token_ids.empty());
  EXPECT_EQ(engine_->cancel(s->id()).code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->cancel("never-submitted").code(), StatusCode::kNotFound);
  EXPECT_FALSE(engine_->has_work());
}

TEST_F(EngineTest, CancelMidDecodeKeepsWhatWasProduced) {
  start();
  auto s = submit(greedy(prompt_of(4, 2), 50));
  auto other = submit(greedy(prompt_of(5, 3), 20));
  for (int i = 0; i < 6; ++i) engine_->step();
  ASSERT_TRUE(engine_->cancel(s->id()).ok());
  run();
  RequestOutput out = result(*s);
  EXPECT_EQ(out.final_info->keel_reason, KeelReason::kCancelled);
  EXPECT_EQ(out.token_ids.size(), 6u);
  EXPECT_EQ(out.token_ids, expected(prompt_of(4, 2), 6));
  EXPECT_EQ(result(*other).token_ids, expected(prompt_of(5, 3), 20));
  expect_pool_whole();
}

TEST_F(EngineTest, DeadlineEndsRunningAndWaitingRequests) {
  EngineConfig c;
  c.max_running = 1;
  start({}, c);
  EngineRequest a = greedy(prompt_of(4, 1), 100);
  a.timeout = milliseconds(1000);
  auto sa = submit(a);
  EngineRequest b = greedy(prompt_of(4, 2), 5);
  b.timeout = milliseconds(500);
  auto sb = submit(b);  // waits behind A (max_running 1)
  for (int i = 0; i < 3; ++i) engine_->step();
  clock_.advance(milliseconds(1000));
  engine_->step();
  expect_pool_whole();
  for (auto* s : {sa.get(), sb.get()}) {
    RequestOutput out = result(*s);
    ASSERT_TRUE(out.finished());
    EXPECT_TRUE(out.final_info->status.ok());
    EXPECT_EQ(out.final_info->finish.reason, FinishReason::kAbort);
    EXPECT_EQ(out.final_info->keel_reason, KeelReason::kTimeout);
  }
  EXPECT_EQ(engine_->stats().num_ended_by_keel_reason[static_cast<size_t>(KeelReason::kTimeout)],
            2);
}

TEST_F(EngineTest, TimedOutRequestDeliversItsTokens) {
  start();
  EngineRequest a = greedy(prompt_of(4, 1), 100);
  a.timeout = milliseconds(1000);
  auto s = submit(a);
  for (int i = 0; i < 5; ++i) engine_->step();
  clock_.advance(milliseconds(1000));
  engine_->step();
  RequestOutput out = result(*s);
  EXPECT_EQ(out.final_info->keel_reason, KeelReason::kTimeout);
  EXPECT_EQ(out.token_ids, expected(prompt_of(4, 1), 5));
  EXPECT_EQ(out.final_info->usage.completion_tokens, 5);
  expect_pool_whole();
}

TEST_F(EngineTest, AFullQueueRefusesAtOnce) {
  EngineConfig c;
  c.max_queued_requests = 2;
  c.max_queue_wait = milliseconds(10'000);
  start({}, c);
  auto s1 = submit(greedy(prompt_of(4, 1), 4));
  auto s2 = submit(greedy(prompt_of(4, 2), 4));
  auto refused = engine_->submit(greedy(prompt_of(4, 3), 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("retry after 5 s"), std::string_view::npos)
      << refused.status().to_string();
  EXPECT_EQ(engine_->retry_after_seconds(), 5);
  EXPECT_EQ(engine_->stats().num_rejected_queue_full, 1);
  run();
  EXPECT_TRUE(result(*s1).final_info->status.ok());
  EXPECT_TRUE(result(*s2).final_info->status.ok());
  expect_pool_whole();
}

TEST_F(EngineTest, RetryAfterIsTheTimeTheAdmissionRateNeedsForTheQueue) {
  EngineConfig c;
  c.max_running = 1;
  c.max_queued_requests = 3;
  c.max_queue_wait = milliseconds(60'000);
  start({}, c);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(submit(greedy(prompt_of(4, i + 1), 1)));
  EXPECT_EQ(engine_->retry_after_seconds(), 30) << "nothing admitted yet: max_queue_wait / 2";
  // One admission every 2 s (each request runs one step), the queue kept full.
  for (int i = 0; i < 10; ++i) {
    engine_->step();
    EXPECT_EQ(engine_->stats().num_waiting, 2);
    clock_.advance(milliseconds(2000));
    streams.push_back(submit(greedy(prompt_of(4, i + 10), 1)));
  }
  // 10 admissions over 18 s: 0.56/s; half of the 2 waiting at the last
  // step -> 1.8 s.
  EXPECT_EQ(engine_->retry_after_ms(), 1800);
  EXPECT_EQ(engine_->retry_after_seconds(), 2);
  auto refused = engine_->submit(greedy(prompt_of(4, 99), 1));
  EXPECT_NE(refused.status().message().find("retry after 2 s"), std::string_view::npos)
      << refused.status().to_string();
  run();
  // Nothing admitted for more than 20 s: back to the cap.
  clock_.advance(milliseconds(21'000));
  engine_->step();
  EXPECT_EQ(engine_->retry_after_seconds(), 30);
  EXPECT_EQ(engine_->retry_after_ms(), 30'000);
  expect_pool_whole();
}

TEST_F(EngineTest, QueueWaitRefusesNewRequestsAndEndsTheWaitingOnes) {
  EngineConfig c;
  c.max_running = 1;
  c.max_queue_wait = milliseconds(1000);
  start({}, c);
  auto a = submit(greedy(prompt_of(4, 1), 200));
  auto b = submit(greedy(prompt_of(4, 2), 4));
  engine_->step();  // A runs; B waits
  clock_.advance(milliseconds(1500));
  auto refused = engine_->submit(greedy(prompt_of(4, 3), 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(engine_->stats().num_rejected_queue_wait, 1);
  engine_->step();
  RequestOutput out = result(*b);
  EXPECT_EQ(out.final_info->status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(out.final_info->keel_reason, KeelReason::kQueueWait);
  EXPECT_GE(out.final_info->retry_after_seconds, 1);
  EXPECT_FALSE(a->closed());  // A goes on
  ASSERT_TRUE(engine_->cancel(a->id()).ok());
  run();
  expect_pool_whole();
}

TEST_F(EngineTest, NeverFitsIsInvalidArgumentAtSubmitWithBothNumbers) {
  FakeExecutorOptions o;
  o.num_blocks = 16;  // 64 tokens, smaller than the 256-token window
  start(o);
  EngineRequest r = greedy(prompt_of(40, 1), 40);
  r.stop.min_new_tokens = 30;
  auto e = engine_->submit(r);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("70 tokens"), std::string_view::npos) << e.status().to_string();
  EXPECT_NE(e.status().message().find("holds 64 tokens"), std::string_view::npos);
  auto window = engine_->submit(greedy(prompt_of(300, 1), 4));
  EXPECT_EQ(window.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(window.status().message().find("context window is 256"), std::string_view::npos)
      << window.status().to_string();
  EngineRequest strict = greedy(prompt_of(10, 1), 1000);
  strict.strict_length = true;
  EXPECT_EQ(engine_->submit(strict).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->stats().num_rejected_invalid, 3);

  // Not strict: lowered to what the pool holds, and the result says so.
  auto s = submit(greedy(prompt_of(10, 1), 1000));
  run();
  RequestOutput out = result(*s);
  EXPECT_EQ(out.token_ids.size(), 54u);
  EXPECT_EQ(out.final_info->finish.reason, FinishReason::kLength);
  EXPECT_EQ(out.final_info->keel_reason, KeelReason::kKvPool);
  ASSERT_EQ(out.final_info->adjustments.size(), 2u);  // window 256 first, then the pool
  EXPECT_NE(out.final_info->adjustments[1].find("from 246 to 54"), std::string::npos)
      << out.final_info->adjustments[1];
  expect_pool_whole();
}

TEST_F(EngineTest, AFailedStepFailsItsRequestsAndTheEngineGoesOn) {
  FakeExecutorOptions o;
  o.max_batch_tokens = 8;
  start(o);
  auto a = submit(greedy(prompt_of(8, 1), 4));
  auto b = submit(greedy(prompt_of(8, 2), 4));
  exec_->fail_next_steps(1, ResourceExhaustedError("device lost"));
  const StepReport report = engine_->step();  // A's prompt alone fills the budget
  EXPECT_EQ(report.num_sequences, 1);
  EXPECT_EQ(report.execute_status.code(), StatusCode::kResourceExhausted);
  RequestOutput out = result(*a);
  EXPECT_EQ(out.final_info->status.code(), StatusCode::kInternal);
  EXPECT_NE(out.final_info->status.message().find("device lost"), std::string_view::npos);
  EXPECT_EQ(out.final_info->finish.reason, FinishReason::kAbort);
  EXPECT_EQ(out.final_info->keel_reason, KeelReason::kError);
  run();
  EXPECT_EQ(result(*b).token_ids, expected(prompt_of(8, 2), 4));
  auto c = submit(greedy(prompt_of(3, 3), 3));
  run();
  EXPECT_EQ(result(*c).token_ids, expected(prompt_of(3, 3), 3));
  EXPECT_EQ(engine_->stats().num_failed_steps, 1);
  expect_pool_whole();
}

TEST_F(EngineTest, MemoryPressureShortensNewRequestsAndSaysWhy) {
  FakeExecutorOptions o;
  o.num_blocks = 16;  // 64 tokens
  start(o);
  auto a = submit(greedy(prompt_of(20, 1), 10));
  engine_->step();  // A holds 5 blocks
  engine_->set_memory_pressure(true);
  auto b = submit(greedy(prompt_of(4, 2), 50));
  run();
  RequestOutput out = result(*b);
  ASSERT_TRUE(out.finished());
  EXPECT_EQ(out.final_info->finish.reason, FinishReason::kLength);
  EXPECT_EQ(out.final_info->keel_reason, KeelReason::kMemoryPressure);
  EXPECT_LT(out.token_ids.size(), 50u);
  EXPECT_EQ(out.token_ids, expected(prompt_of(4, 2), static_cast<int64_t>(out.token_ids.size())));
  ASSERT_EQ(out.final_info->adjustments.size(), 1u);
  EXPECT_NE(out.final_info->adjustments[0].find("under memory pressure"), std::string::npos);
  EXPECT_EQ(result(*a).token_ids.size(), 10u);  // admitted before: untouched
  engine_->set_memory_pressure(false);
  auto c = submit(greedy(prompt_of(4, 2), 50));
  run();
  EXPECT_EQ(result(*c).token_ids.size(), 50u);
  expect_pool_whole();
}

TEST_F(EngineTest, EosEndsWithStopAndMinNewTokensSuppressesIt) {
  start();
  const std::vector<int32_t> want = expected(prompt_of(5, 4), 12);
  const int32_t eos = want[3];
  ASSERT_EQ(std::count(want.begin(), want.begin() + 3, eos), 0) << "pick another prompt";
  EngineRequest r = greedy(prompt_of(5, 4), 12);
  r.stop.eos_ids = {eos};
  auto s = submit(r);
  EngineRequest m = r;
  m.stop.min_new_tokens = 6;
  auto sm = submit(m);
  run();
  RequestOutput out = result(*s);
  EXPECT_EQ(out.final_info->finish.reason, FinishReason::kStop);
  EXPECT_EQ(out.final_info->finish.cause, sampling::StopCause::kEosToken);
  EXPECT_EQ(out.token_ids, std::vector<int32_t>(want.begin(), want.begin() + 4));
  RequestOutput longer = result(*sm);
  ASSERT_GE(longer.token_ids.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_NE(longer.token_ids[i], eos);
  expect_pool_whole();
}

TEST_F(EngineTest, AnAllocationFaultPreemptsAndTheRequestResumes) {
  start();
  auto fault = std::make_shared<memory::ScriptedFaultInjector>("KV blocks", /*skip=*/1,
                                                              /*fail_count=*/1);
  exec_->kv_pool().set_fault_injector(fault);
  auto a = submit(greedy(prompt_of(6, 1), 8));
  auto b = submit(greedy(prompt_of(6, 2), 8));
  const StepReport first = engine_->step();  // A's blocks come; B's are refused
  EXPECT_EQ(fault->num_injected(), 1);
  EXPECT_EQ(first.num_sequences, 1);
  EXPECT_EQ(first.num_preempted, 1);
  run();
  EXPECT_EQ(result(*a).token_ids, expected(prompt_of(6, 1), 8));
  RequestOutput out = result(*b);
  EXPECT_EQ(out.token_ids, expected(prompt_of(6, 2), 8));
  EXPECT_EQ(out.final_info->usage.num_preemptions, 1);
  exec_->kv_pool().set_fault_injector(nullptr);
  expect_pool_whole();
}

}  // namespace
}  // namespace keel::engine
