// Failure semantics of the communicator, for world sizes 2 and 4: one rank
// aborts, stalls, dies (fault rank.dead or a RankGuard), or the group is
// aborted from outside; every other rank must return promptly with a Status
// naming the failing rank; reset() then gives a working group again.
// Latency bounds are generous (2 s) so the tests never flake on a loaded
// machine; the measured values are printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "keel/core/fault.h"
#include "keel/parallel/communicator.h"
#include "parallel/rank_threads.h"

namespace keel::parallel {
namespace {

using testing::Clock;
using testing::ms_between;
using testing::run_ranks;

constexpr int64_t kLongMs = 60000;
constexpr double kPromptMs = 2000;  // asserted bound; typical values are < 5 ms

std::unique_ptr<CommGroup> make_group(int world) {
  CommOptions options;
  options.max_elements = 4096;
  auto group = create_group(world, options);
  EXPECT_TRUE(group.ok());
  return std::move(group).value();
}

bool contains(const Status& s, std::string_view text) {
  return s.message().find(text) != std::string_view::npos;
}

// After any failure: reset, rejoin every rank, and check one all_reduce.
void expect_usable_after_reset(CommGroup& group) {
  fault::disarm_all();  // a test's stall must not hit the check itself
  const uint64_t gen = group.generation();
  Status reset = group.reset(Deadline::after_ms(5000));
  ASSERT_TRUE(reset.ok()) << reset.to_string();
  EXPECT_EQ(group.generation(), gen + 1);
  EXPECT_TRUE(group.group_status().ok());
  const int world = group.world_size();
  std::vector<std::vector<float>> data(static_cast<size_t>(world));
  run_ranks(group, [&](int r, Communicator& comm) {
    comm.rejoin();
    auto& d = data[static_cast<size_t>(r)];
    d.assign(100, static_cast<float>(r + 1));
    Status s = comm.all_reduce_sum(d, Deadline::after_ms(kLongMs));
    EXPECT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(comm.num_collectives(), 1u);
  });
  for (const auto& d : data) {
    EXPECT_EQ(d, std::vector<float>(100, static_cast<float>(world * (world + 1) / 2)));
  }
}

class FailureTest : public ::testing::TestWithParam<int> {
 protected:
  int world() const { return GetParam(); }
  int victim() const { return world() - 1; }  // rank 1 of 2, rank 3 of 4
};

TEST_P(FailureTest, AbortFromOneRankMidStreamEndsEveryRankPromptly) {
  auto group = make_group(world());
  std::atomic<int64_t> abort_at_ns{0};
  std::vector<Status> got(static_cast<size_t>(world()));
  std::vector<Clock::time_point> returned(static_cast<size_t>(world()));
  run_ranks(*group, [&](int r, Communicator& comm) {
    std::vector<float> data(1024, 1.0f);
    for (int it = 0;; ++it) {
      if (r == victim() && it == 50) {
        abort_at_ns.store(Clock::now().time_since_epoch().count());
        comm.abort(ResourceExhaustedError("KV pool: 4 blocks requested, 0 free"));
        got[static_cast<size_t>(r)] = comm.group_status();
        returned[static_cast<size_t>(r)] = Clock::now();
        return;
      }
      Status s = comm.all_reduce_sum(data, Deadline::after_ms(kLongMs));
      if (!s.ok()) {
        returned[static_cast<size_t>(r)] = Clock::now();
        got[static_cast<size_t>(r)] = s;
        return;
      }
      std::fill(data.begin(), data.end(), 1.0f);
    }
  });
  const Clock::time_point abort_at{Clock::duration(abort_at_ns.load())};
  double max_ms = 0;
  for (int r = 0; r < world(); ++r) {
    const Status& s = got[static_cast<size_t>(r)];
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
    EXPECT_TRUE(contains(s, fmt::format("rank {} failed: RESOURCE_EXHAUSTED: KV pool", victim())))
        << s.to_string();
    if (r == victim()) continue;
    EXPECT_TRUE(contains(s, fmt::format("(collective all_reduce #51 on rank {} aborted)", r)))
        << s.to_string();
    max_ms = std::max(max_ms, ms_between(abort_at, returned[static_cast<size_t>(r)]));
  }
  std::printf("[ latency ] world %d: abort -> every rank returned: max %.3f ms\n", world(), max_ms);
  EXPECT_LT(max_ms, kPromptMs);
  ASSERT_TRUE(group->failure().has_value());
  EXPECT_EQ(group->failure()->rank, victim());
  expect_usable_after_reset(*group);
}

TEST_P(FailureTest, StalledRankGivesDeadlineExceededNamingItAndEndsOnceAborted) {
  const int stalled = world() == 4 ? 2 : 1;
  fault::ScopedFaults faults(fmt::format("collective.stall:rank={}:stall=10s", stalled));
  auto group = make_group(world());
  constexpr int64_t kDeadlineMs = 300;
  std::vector<Status> got(static_cast<size_t>(world()));
  std::vector<double> took_ms(static_cast<size_t>(world()));
  const Clock::time_point start = Clock::now();
  run_ranks(*group, [&](int r, Communicator& comm) {
    std::vector<float> data(256, 1.0f);
    got[static_cast<size_t>(r)] = comm.all_reduce_sum(data, Deadline::after_ms(kDeadlineMs));
    took_ms[static_cast<size_t>(r)] = ms_between(start, Clock::now());
  });
  double max_after_deadline = 0;
  for (int r = 0; r < world(); ++r) {
    const Status& s = got[static_cast<size_t>(r)];
    EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
    EXPECT_TRUE(contains(s, fmt::format("all_reduce #1: rank {} did not arrive within", stalled)))
        << s.to_string();
    EXPECT_GE(took_ms[static_cast<size_t>(r)], kDeadlineMs - 5.0);
    max_after_deadline =
        std::max(max_after_deadline, took_ms[static_cast<size_t>(r)] - kDeadlineMs);
  }
  std::printf("[ latency ] world %d: stalled rank %d; every rank (the stalled one included) "
              "returned within %.3f ms after the %lld ms deadline\n",
              world(), stalled, max_after_deadline, static_cast<long long>(kDeadlineMs));
  EXPECT_LT(max_after_deadline, kPromptMs);
  ASSERT_TRUE(group->failure().has_value());
  EXPECT_EQ(group->failure()->rank, stalled);
  expect_usable_after_reset(*group);
}

TEST_P(FailureTest, StalledRankEndsPromptlyWhenAPeerAborts) {
  const int stalled = world() == 4 ? 2 : 1;
  fault::ScopedFaults faults(fmt::format("collective.stall:rank={}:stall=10s", stalled));
  auto group = make_group(world());
  std::vector<Status> got(static_cast<size_t>(world()));
  Clock::time_point abort_at;
  Clock::time_point stalled_returned;
  run_ranks(*group, [&](int r, Communicator& comm) {
    std::vector<float> data(256, 1.0f);
    if (r == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      abort_at = Clock::now();
      comm.abort(InternalError("kernel failed"));
      return;
    }
    got[static_cast<size_t>(r)] = comm.all_reduce_sum(data, Deadline::after_ms(kLongMs));
    if (r == stalled) stalled_returned = Clock::now();
  });
  const Status& s = got[static_cast<size_t>(stalled)];
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
  EXPECT_TRUE(contains(s, "rank 0 failed: INTERNAL: kernel failed")) << s.to_string();
  const double ms = ms_between(abort_at, stalled_returned);
  std::printf("[ latency ] world %d: stalled rank %d left its 10 s stall %.3f ms after the abort\n",
              world(), stalled, ms);
  EXPECT_LT(ms, kPromptMs);
  expect_usable_after_reset(*group);
}

TEST_P(FailureTest, RankDeadFaultAbortsTheGroup) {
  fault::ScopedFaults faults(fmt::format("rank.dead:rank={}:nth=7", victim()));
  auto group = make_group(world());
  std::vector<Status> got(static_cast<size_t>(world()));
  std::vector<int> completed(static_cast<size_t>(world()));
  std::vector<Clock::time_point> returned(static_cast<size_t>(world()));
  run_ranks(*group, [&](int r, Communicator& comm) {
    std::vector<float> data(512, 2.0f);
    for (int it = 0; it < 100; ++it) {
      Status s = comm.all_reduce_sum(data, Deadline::after_ms(kLongMs));
      if (!s.ok()) {
        got[static_cast<size_t>(r)] = s;
        returned[static_cast<size_t>(r)] = Clock::now();
        return;
      }
      ++completed[static_cast<size_t>(r)];
    }
  });
  double spread_ms = 0;
  for (int r = 0; r < world(); ++r) {
    const Status& s = got[static_cast<size_t>(r)];
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
    EXPECT_TRUE(contains(s, fmt::format("rank {} failed: UNAVAILABLE: injected fault rank.dead "
                                        "(hit 7, rank {}, phase collective)", victim(), victim())))
        << s.to_string();
    EXPECT_TRUE(contains(s, fmt::format("all_reduce #7 on rank {} aborted", r))) << s.to_string();
    EXPECT_EQ(completed[static_cast<size_t>(r)], 6);
    spread_ms = std::max(spread_ms, ms_between(returned[static_cast<size_t>(victim())],
                                               returned[static_cast<size_t>(r)]));
  }
  std::printf("[ latency ] world %d: rank.dead on rank %d -> peers returned within %.3f ms\n",
              world(), victim(), spread_ms);
  EXPECT_LT(spread_ms, kPromptMs);
  EXPECT_EQ(fault::counters(fault::Point::kRankDead).injections, 1u);
  expect_usable_after_reset(*group);
}

TEST_P(FailureTest, RankGuardAbortsWhenARankLeavesMidStep) {
  auto group = make_group(world());
  std::vector<Status> got(static_cast<size_t>(world()));
  Clock::time_point died_at;
  std::vector<Clock::time_point> returned(static_cast<size_t>(world()));
  run_ranks(*group, [&](int r, Communicator& comm) {
    RankGuard guard(comm);
    std::vector<float> data(64, 1.0f);
    for (int it = 0; it < 1000; ++it) {
      if (r == victim() && it == 3) {
        died_at = Clock::now();
        return;  // the thread leaves its step: the guard aborts "as dead"
      }
      Status s = comm.all_reduce_sum(data, Deadline::after_ms(kLongMs));
      if (!s.ok()) {
        got[static_cast<size_t>(r)] = s;
        returned[static_cast<size_t>(r)] = Clock::now();
        return;
      }
    }
    guard.finish();
  });
  double max_ms = 0;
  for (int r = 0; r < world(); ++r) {
    if (r == victim()) continue;
    const Status& s = got[static_cast<size_t>(r)];
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.to_string();
    EXPECT_TRUE(contains(s, fmt::format("rank {} failed: UNAVAILABLE: its thread left its step "
                                        "without finishing it (the rank died)", victim())))
        << s.to_string();
    max_ms = std::max(max_ms, ms_between(died_at, returned[static_cast<size_t>(r)]));
  }
  std::printf("[ latency ] world %d: rank %d died (guard) -> peers returned within %.3f ms\n",
              world(), victim(), max_ms);
  EXPECT_LT(max_ms, kPromptMs);
  expect_usable_after_reset(*group);
}

TEST_P(FailureTest, AbortFromOutsideWakesEveryWaitingRank) {
  auto group = make_group(world());
  std::vector<Status> got(static_cast<size_t>(world()));
  std::vector<Clock::time_point> returned(static_cast<size_t>(world()));
  Clock::time_point abort_at;
  std::thread watchdog([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    abort_at = Clock::now();
    group->abort(CancelledError("engine step stalled for 61 s in forward layer 17 on rank 2"));
  });
  run_ranks(*group, [&](int r, Communicator& comm) {
    // Rank 0 never arrives: the others wait in barrier #1 until the abort.
    if (r == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      got[0] = comm.barrier(Deadline::after_ms(kLongMs));
      return;
    }
    got[static_cast<size_t>(r)] = comm.barrier(Deadline::after_ms(kLongMs));
    returned[static_cast<size_t>(r)] = Clock::now();
  });
  watchdog.join();
  double max_ms = 0;
  for (int r = 0; r < world(); ++r) {
    EXPECT_EQ(got[static_cast<size_t>(r)].code(), StatusCode::kCancelled);
    EXPECT_TRUE(contains(got[static_cast<size_t>(r)], "forward layer 17 on rank 2"));
    if (r > 0) max_ms = std::max(max_ms, ms_between(abort_at, returned[static_cast<size_t>(r)]));
  }
  std::printf("[ latency ] world %d: external abort -> waiting ranks returned within %.3f ms\n",
              world(), max_ms);
  EXPECT_LT(max_ms, kPromptMs);
  EXPECT_EQ(group->failure()->rank, -1);
  expect_usable_after_reset(*group);
}

TEST_P(FailureTest, ExpiredDeadlineNamesTheMissingRanks) {
  auto group = make_group(world());
  Status s = group->comm(0).barrier(Deadline::after_ms(50));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  const std::string missing = world() == 2 ? "rank 1" : "ranks 1,2,3";
  EXPECT_TRUE(contains(s, fmt::format("barrier #1: {} did not arrive within", missing)))
      << s.to_string();
  EXPECT_TRUE(contains(s, "(ranks 0 waiting)")) << s.to_string();
  // Later collectives of any rank fail at once with the same cause.
  Status later = group->comm(1).all_reduce_sum({}, Deadline::after_ms(kLongMs));
  EXPECT_EQ(later.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(contains(later, "(collective all_reduce #1 on rank 1 aborted)")) << later.to_string();
  EXPECT_EQ(group->group_status().code(), StatusCode::kDeadlineExceeded);
  expect_usable_after_reset(*group);
}

TEST_P(FailureTest, StragglerOfAnAbortedStepCannotJoinTheNextGeneration) {
  auto group = make_group(world());
  group->abort(InternalError("step 1 failed"));
  ASSERT_TRUE(group->reset(Deadline::after_ms(5000)).ok());
  std::vector<std::vector<float>> data(static_cast<size_t>(world()));
  Status straggler;
  run_ranks(*group, [&](int r, Communicator& comm) {
    auto& d = data[static_cast<size_t>(r)];
    if (r == victim()) {
      // Still in the aborted step: its collective is refused before it
      // touches shared state, and the group is not disturbed.
      std::vector<float> stale(100, 1000.0f);
      straggler = comm.all_reduce_sum(stale, Deadline::after_ms(kLongMs));
    }
    comm.rejoin();
    d.assign(100, static_cast<float>(r + 1));
    Status s = comm.all_reduce_sum(d, Deadline::after_ms(kLongMs));
    EXPECT_TRUE(s.ok()) << s.to_string();
  });
  EXPECT_EQ(straggler.code(), StatusCode::kFailedPrecondition) << straggler.to_string();
  EXPECT_TRUE(contains(straggler, "the group was reset (generation 0 -> 1)")) << straggler.to_string();
  for (const auto& d : data) {
    EXPECT_EQ(d, std::vector<float>(100, static_cast<float>(world() * (world() + 1) / 2)));
  }
  EXPECT_TRUE(group->group_status().ok());
}

TEST_P(FailureTest, ResetWaitsForRanksStalledInsideACollective) {
  fault::ScopedFaults faults("collective.stall:stall=10s");
  auto group = make_group(world());
  std::vector<Status> got(static_cast<size_t>(world()));
  Status reset;
  double reset_ms = 0;
  std::thread resetter([&] {
    // Once every rank is stalled inside its barrier (bounded wait).
    for (int i = 0; i < 2000 && fault::counters(fault::Point::kCollectiveStall).injections <
                                    static_cast<uint64_t>(world()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const Clock::time_point t0 = Clock::now();
    reset = group->reset(Deadline::after_ms(5000));
    reset_ms = ms_between(t0, Clock::now());
  });
  run_ranks(*group, [&](int r, Communicator& comm) {
    got[static_cast<size_t>(r)] = comm.barrier(Deadline::after_ms(kLongMs));
  });
  resetter.join();
  EXPECT_TRUE(reset.ok()) << reset.to_string();
  std::printf("[ latency ] world %d: reset with every rank stalled took %.3f ms\n", world(),
              reset_ms);
  EXPECT_LT(reset_ms, kPromptMs);
  for (const Status& s : got) {
    EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.to_string();
    EXPECT_TRUE(contains(s, "tensor-parallel group reset (generation 0)")) << s.to_string();
  }
}

TEST_P(FailureTest, FailuresRepeatedWithResetsInBetween) {
  auto group = make_group(world());
  for (int round = 0; round < 50; ++round) {
    const int failing = round % world();
    std::vector<Status> got(static_cast<size_t>(world()));
    run_ranks(*group, [&](int r, Communicator& comm) {
      comm.rejoin();
      std::vector<float> data(128, 1.0f);
      for (int it = 0; it < 20; ++it) {
        if (r == failing && it == round % 7) {
          comm.abort(ResourceExhaustedError("round {}", round));
          return;
        }
        Status s = comm.all_reduce_sum(data, Deadline::after_ms(kLongMs));
        if (!s.ok()) {
          got[static_cast<size_t>(r)] = s;
          return;
        }
        std::fill(data.begin(), data.end(), 1.0f);
      }
    });
    for (int r = 0; r < world(); ++r) {
      if (r == failing) continue;
      EXPECT_TRUE(contains(got[static_cast<size_t>(r)],
                           fmt::format("rank {} failed: RESOURCE_EXHAUSTED: round {}", failing,
                                       round))) << got[static_cast<size_t>(r)].to_string();
    }
    ASSERT_TRUE(group->reset(Deadline::after_ms(5000)).ok());
  }
  expect_usable_after_reset(*group);
}

INSTANTIATE_TEST_SUITE_P(World, FailureTest, ::testing::Values(2, 4),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return "world" + std::to_string(param_info.param);
                         });

}  // namespace
}  // namespace keel::parallel
