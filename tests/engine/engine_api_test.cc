// The engine's API as a server uses it, over the FakeExecutor: streams and
// their deadlines, ids, sinks, the driver thread with concurrent clients,
// shutdown. The pool is whole after every scenario. No timing asserts.
#include "keel/engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "keel/engine/fake_executor.h"
#include "engine/engine_fixture.h"

namespace keel::engine {
namespace {

using std::chrono::milliseconds;
using sampling::FinishReason;

class EngineApiTest : public testing::EngineFixture {};

TEST_F(EngineApiTest, ShutdownEndsEveryRequestAndRefusesNewOnes) {
  start();
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(submit(greedy(prompt_of(6, i), 30)));
  engine_->step();
  engine_->shutdown();
  for (auto& s : streams) {
    RequestOutput out = result(*s);
    EXPECT_EQ(out.final_info->status.code(), StatusCode::kUnavailable);
    EXPECT_EQ(out.final_info->keel_reason, KeelReason::kShutdown);
  }
  EXPECT_EQ(engine_->submit(greedy(prompt_of(3, 1), 3)).status().code(),
            StatusCode::kUnavailable);
  expect_pool_whole();
}

TEST_F(EngineApiTest, StreamsAndIds) {
  start();
  EngineRequest named = greedy(prompt_of(3, 1), 3);
  named.id = "chatcmpl-1";
  auto s = submit(named);
  EXPECT_EQ(s->id(), "chatcmpl-1");
  EXPECT_EQ(engine_->submit(named).status().code(), StatusCode::kInvalidArgument);  // id in use
  auto unnamed = submit(greedy(prompt_of(3, 2), 3));
  EXPECT_FALSE(unnamed->id().empty());
  EXPECT_NE(unnamed->id(), s->id());
  EXPECT_EQ(s->next(Deadline::after_ms(0)).status().code(), StatusCode::kDeadlineExceeded);
  clock_.advance(milliseconds(10));
  engine_->step();
  auto first = s->next(Deadline::after_ms(0));  // the prompt's last chunk sampled one token
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->token_ids.size(), 1u);
  EXPECT_FALSE(first->finished());
  run();
  auto rest = s->collect(Deadline::after_ms(0));
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->token_ids.size(), 2u);
  EXPECT_EQ(s->next(Deadline::after_ms(0)).status().code(), StatusCode::kOutOfRange);
  const RequestTimings& t = rest->final_info->timings;
  EXPECT_GT(t.ttft_seconds, 0);  // fake time moves 10 ms per step
  EXPECT_GT(t.tpot_seconds, 0);
  EXPECT_GE(t.e2e_seconds, t.ttft_seconds);
  EXPECT_GT(engine_->last_step_time().time_since_epoch().count(), 0);
  expect_pool_whole();
}

// A sink that records every call (the server's kind of consumer).
class RecordingSink final : public RequestSink {
 public:
  void on_output(std::string_view text, std::span<const int32_t> ids) override {
    EXPECT_FALSE(final_.has_value()) << "output after the final";
    EXPECT_FALSE(text.empty() && ids.empty());
    ids_.insert(ids_.end(), ids.begin(), ids.end());
  }
  void on_final(RequestFinal f) override {
    EXPECT_FALSE(final_.has_value()) << "two finals";
    final_ = std::move(f);
  }
  std::vector<int32_t> ids_;
  std::optional<RequestFinal> final_;
};

TEST_F(EngineApiTest, SinksGetOutputsThenExactlyOneFinal) {
  EngineConfig c;
  c.eos_ids = {63};  // the model's EOS, added to every request
  start({}, c);
  auto sink = std::make_shared<RecordingSink>();
  auto id = engine_->submit(greedy(prompt_of(7, 5), 9), sink);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  auto cancelled = std::make_shared<RecordingSink>();
  auto id2 = engine_->submit(greedy(prompt_of(7, 6), 9), cancelled);
  ASSERT_TRUE(id2.ok());
  EXPECT_NE(*id, *id2);
  EXPECT_EQ(engine_->submit(greedy(prompt_of(3, 1), 1), nullptr).status().code(),
            StatusCode::kInvalidArgument);
  auto refused = std::make_shared<RecordingSink>();
  EXPECT_FALSE(engine_->submit(greedy({}, 1), refused).ok());
  EXPECT_EQ(engine_->heartbeat_age(), std::nullopt);
  engine_->step();
  ASSERT_TRUE(engine_->cancel(*id2).ok());
  run();
  ASSERT_TRUE(sink->final_.has_value());
  std::vector<int32_t> want = expected(prompt_of(7, 5), 9);
  if (auto eos = std::find(want.begin(), want.end(), 63); eos != want.end()) {
    want.erase(eos + 1, want.end());
  }
  EXPECT_EQ(sink->ids_, want);
  ASSERT_TRUE(cancelled->final_.has_value());
  EXPECT_EQ(cancelled->final_->keel_reason, KeelReason::kCancelled);
  EXPECT_FALSE(refused->final_.has_value());  // a refused submit never calls its sink
  EXPECT_TRUE(engine_->heartbeat_age().has_value());
  expect_pool_whole();
}

TEST_F(EngineApiTest, RunLoopServesConcurrentClients) {
  FakeExecutorOptions o;
  o.num_blocks = 20;  // some preemption under load
  start(o);
  engine_->start();
  constexpr int kClients = 6;
  std::vector<std::vector<int32_t>> got(kClients);
  std::vector<Status> statuses(kClients);
  {
    std::vector<std::jthread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&, i] {
        auto s = engine_->submit(greedy(prompt_of(5 + i, i), 12 + i));
        if (!s.ok()) {
          statuses[static_cast<size_t>(i)] = s.status();
          return;
        }
        auto out = (*s)->collect(Deadline::after(std::chrono::seconds(60)));
        statuses[static_cast<size_t>(i)] = out.status();
        if (out.ok()) got[static_cast<size_t>(i)] = out->token_ids;
      });
    }
  }
  EXPECT_TRUE(engine_->stop_loop().ok());
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(statuses[static_cast<size_t>(i)].ok()) << statuses[static_cast<size_t>(i)].to_string();
    EXPECT_EQ(got[static_cast<size_t>(i)], expected(prompt_of(5 + i, i), 12 + i)) << i;
  }
  expect_pool_whole();
}

}  // namespace
}  // namespace keel::engine
