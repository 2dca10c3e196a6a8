// keel serving with tensor parallelism (TpExecutor, TP = 2 and 4) end to
// end: concurrent greedy requests, plain and streamed, give exactly the
// tokens TP = 1 (engine::generate on the unsplit model) gives; the ranks'
// budgets are each total / N; the pool is whole afterwards.
#include <gtest/gtest.h>

#include <thread>

#include "server/real_server.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

class TpServeE2eTest : public RealServerTest, public ::testing::WithParamInterface<int> {};

TEST_P(TpServeE2eTest, ConcurrentGreedyRequestsEqualTp1) {
  RealServerOptions o;
  o.tp = GetParam();
  start(o);
  auto& tp = dynamic_cast<engine::TpExecutor&>(*executor_);
  ASSERT_EQ(tp.world_size(), GetParam());
  for (int r = 0; r < tp.world_size(); ++r) {
    EXPECT_EQ(tp.device(r).budget().limit_bytes(), o.budget_bytes / static_cast<uint64_t>(o.tp));
    EXPECT_EQ(tp.device(r).budget().rank(), r);
  }
  const std::vector<std::string> prompts = {"Hello, world", "keel never hangs. 日本語 too",
                                            "The quick brown fox", "Once upon a time",
                                            "A B C D E F G", "tensor parallel"};
  std::vector<std::string> want;
  for (const std::string& p : prompts) want.push_back(reference(p, 20).text);
  std::vector<std::string> got(prompts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < prompts.size(); ++i) {
    clients.emplace_back([&, i] {
      Json body = {{"model", "tiny-qwen2"}, {"prompt", prompts[i]}, {"max_tokens", 20},
                   {"temperature", 0}};
      if (i % 2 == 1) {
        body["stream"] = true;
        bool done = false;
        for (const Json& j : stream_events(port_, "/v1/completions", body, 60s, &done)) {
          for (const Json& ch : j["choices"]) got[i] += ch.value("text", "");
        }
        if (!done) got[i] = "<stream did not end>";
      } else {
        HttpResponse r = complete(body);
        got[i] = r.status == 200 ? r.json()["choices"][0]["text"].get<std::string>()
                                 : "<" + std::to_string(r.status) + " " + r.body + ">";
      }
    });
  }
  for (auto& c : clients) c.join();
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(got[i], want[i]) << prompts[i];
  EXPECT_EQ(tp.num_resets(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Tp, TpServeE2eTest, ::testing::Values(2, 4),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "tp" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace keel::server::testing
