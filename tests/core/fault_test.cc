#include "keel/core/fault.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>
#include <vector>

#include "common/fork_util.h"

namespace keel::fault {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// A stall clock on which sleeping advances fake time; counts the sleeps.
class FakeStallClock final : public StallClock {
 public:
  SteadyTime now() const override { return clock_.now(); }
  void sleep_for(nanoseconds d) override {
    ++sleeps_;
    longest_sleep_ = std::max(longest_sleep_, d);
    clock_.advance(d);
    if (on_sleep_) on_sleep_(clock_.now());
  }
  FakeClock clock_;
  int sleeps_ = 0;
  nanoseconds longest_sleep_{0};
  std::function<void(SteadyTime)> on_sleep_;
};

// Fires on hit numbers 1..n of `point` (single thread); true for injected.
std::vector<bool> hits(Point point, int n, const Site& site = {}) {
  std::vector<bool> out;
  for (int i = 0; i < n; ++i) out.push_back(!check(point, site).ok());
  return out;
}

TEST(FaultRegistryTest, NamesRoundTripAndAreDocumented) {
  ASSERT_EQ(fault_points().size(), static_cast<size_t>(kNumPoints));
  for (const PointInfo& p : fault_points()) {
    EXPECT_EQ(point_by_name(p.name), p.point);
    EXPECT_EQ(point_name(p.point), p.name);
    EXPECT_FALSE(p.doc.empty());
    EXPECT_EQ(p.stalls, p.code == StatusCode::kOk) << p.name;
    EXPECT_NE(help_text().find(p.name), std::string::npos);
  }
  EXPECT_FALSE(point_by_name("kv_pool").has_value());
  EXPECT_EQ(point_info(Point::kKvPoolAlloc).code, StatusCode::kResourceExhausted);
  EXPECT_EQ(point_info(Point::kKernelError).code, StatusCode::kInternal);
  EXPECT_EQ(point_info(Point::kRankDead).code, StatusCode::kUnavailable);
}

TEST(FaultSpecTest, ParsesGoodSpecs) {
  auto r = parse_spec(
      " kv_pool.alloc:nth=3 , step.stall:phase=forward:stall=250ms:count=2,"
      "tokenizer.error:p=0.05:seed=7,rank.dead:rank=3:after=10,kernel.error:every=4");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto& v = *r;
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].point, Point::kKvPoolAlloc);
  EXPECT_EQ(v[0].when, ArmSpec::When::kNth);
  EXPECT_EQ(v[0].n, 3u);
  EXPECT_EQ(v[1].phase, "forward");
  EXPECT_EQ(v[1].stall, milliseconds(250));
  EXPECT_EQ(v[1].max_injections, 2u);
  EXPECT_EQ(v[2].when, ArmSpec::When::kProbability);
  EXPECT_DOUBLE_EQ(v[2].probability, 0.05);
  EXPECT_EQ(v[2].seed, 7u);
  EXPECT_EQ(v[3].rank, 3);
  EXPECT_EQ(v[3].when, ArmSpec::When::kAfter);
  EXPECT_EQ(v[4].when, ArmSpec::When::kEvery);
  EXPECT_EQ(v[0].to_string(), "kv_pool.alloc:nth=3");
  EXPECT_EQ(v[1].to_string(), "step.stall:count=2:stall=250ms:phase=forward");
  EXPECT_EQ(v[2].to_string(), "tokenizer.error:p=0.05:seed=7");
  EXPECT_EQ(v[3].to_string(), "rank.dead:after=10:rank=3");

  auto d = parse_spec("collective.stall:stall=1.5s,tokenizer.stall:stall=500us,"
                      "step.stall:stall=2m,step.stall:stall=0ms,kernel.error");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ((*d)[0].stall, milliseconds(1500));
  EXPECT_EQ((*d)[1].stall, std::chrono::microseconds(500));
  EXPECT_EQ((*d)[2].stall, std::chrono::minutes(2));
  EXPECT_EQ((*d)[3].stall, nanoseconds(0));
  EXPECT_EQ((*d)[4].when, ArmSpec::When::kAlways);
  EXPECT_EQ((*d)[0].to_string(), "collective.stall:stall=1500ms");

  auto empty = parse_spec("  ");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(FaultSpecTest, BadSpecsNameTheTokenAndListPoints) {
  struct Case {
    const char* spec;
    const char* says;
  };
  const Case cases[] = {
      {"kv_pool.alocc", "unknown point 'kv_pool.alocc'"},
      {"kv_pool.alloc:nth=0", "nth=0 is not a count >= 1"},
      {"kv_pool.alloc:nth=x", "nth=x is not"},
      {"kv_pool.alloc:every=-1", "every=-1 is not"},
      {"kv_pool.alloc:p=1.5", "p=1.5 is not a probability"},
      {"kv_pool.alloc:p=nan", "p=nan is not"},
      {"kv_pool.alloc:nth=2:every=3", "at most one of nth, every, after, p"},
      {"kv_pool.alloc:seed=3", "seed= needs p="},
      {"kv_pool.alloc:count=0", "count=0 is not"},
      {"step.stall:stall=250", "stall=250 is not a duration"},
      {"step.stall:stall=-1s", "stall=-1s is not a duration"},
      {"step.stall:stall=1h", "stall=1h is not a duration"},
      {"rank.dead:rank=-1", "rank=-1 is not a rank"},
      {"rank.dead:rank=1:rank=2", "rank given twice"},
      {"step.stall:phase=", "phase= is not a phase name"},
      {"step.stall:when=3", "unknown parameter 'when'"},
      {"step.stall:nth", "parameter 'nth' is not key=value"},
      {"kernel.error,,step.stall", "has an empty entry"},
      {"kernel.error,", "has an empty entry"},
  };
  for (const Case& c : cases) {
    auto r = parse_spec(c.spec);
    ASSERT_FALSE(r.ok()) << c.spec;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.spec;
    std::string msg(r.status().message());
    EXPECT_NE(msg.find(c.says), std::string::npos) << c.spec << " -> " << msg;
    EXPECT_NE(msg.find("kv_pool.alloc_blocks"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Syntax:"), std::string::npos) << msg;
  }
}

TEST(FaultArmTest, BadSpecArmsNothing) {
  ScopedFaults scoped("");
  EXPECT_FALSE(any_armed());
  Status s = arm_faults_from_spec("kernel.error,bogus.point");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(any_armed());
  EXPECT_TRUE(check(Point::kKernelError).ok());
  EXPECT_EQ(armed_summary(), "");
}

TEST(FaultArmTest, DisarmedHitsCostNothingAndCountNothing) {
  disarm_all();
  reset_counters();
  EXPECT_FALSE(any_armed());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(check(Point::kKvPoolAlloc).ok());
  EXPECT_EQ(counters(Point::kKvPoolAlloc).hits, 0u);
  EXPECT_EQ(total_injections(), 0u);
}

TEST(FaultArmTest, DefaultFiresEveryHitWithTheMessage) {
  ScopedFaults scoped("kernel.error");
  EXPECT_TRUE(any_armed());
  Status s1 = check(Point::kKernelError);
  Status s2 = check(Point::kKernelError, {.rank = 2, .phase = "forward"});
  EXPECT_EQ(s1.code(), StatusCode::kInternal);
  EXPECT_EQ(s1.message(), "injected fault kernel.error (hit 1)");
  EXPECT_EQ(s2.message(), "injected fault kernel.error (hit 2, rank 2, phase forward)");
  EXPECT_TRUE(check(Point::kTokenizerError).ok());  // other points unaffected
  EXPECT_EQ(counters(Point::kKernelError).hits, 2u);
  EXPECT_EQ(counters(Point::kKernelError).injections, 2u);
  EXPECT_EQ(counters(Point::kTokenizerError).injections, 0u);
  EXPECT_EQ(armed_summary(), "kernel.error");
  disarm_all();
  EXPECT_TRUE(check(Point::kKernelError).ok());
}

TEST(FaultArmTest, NthEveryAfterCount) {
  {
    ScopedFaults scoped("kv_pool.alloc:nth=3");
    EXPECT_EQ(hits(Point::kKvPoolAlloc, 6),
              (std::vector<bool>{false, false, true, false, false, false}));
    EXPECT_EQ(check(Point::kKvPoolAlloc).code(), StatusCode::kOk);
  }
  {
    ScopedFaults scoped("kv_pool.alloc:every=2");
    EXPECT_EQ(hits(Point::kKvPoolAlloc, 6),
              (std::vector<bool>{false, true, false, true, false, true}));
  }
  {
    ScopedFaults scoped("kv_pool.alloc:after=4");
    EXPECT_EQ(hits(Point::kKvPoolAlloc, 6),
              (std::vector<bool>{false, false, false, false, true, true}));
  }
  {
    ScopedFaults scoped("kv_pool.alloc:every=2:count=2");
    EXPECT_EQ(hits(Point::kKvPoolAlloc, 8),
              (std::vector<bool>{false, true, false, true, false, false, false, false}));
    EXPECT_EQ(counters(Point::kKvPoolAlloc).injections, 2u);
    EXPECT_EQ(counters(Point::kKvPoolAlloc).hits, 8u);
  }
  {
    ScopedFaults scoped("kv_pool.alloc:count=1");
    EXPECT_EQ(hits(Point::kKvPoolAlloc, 3), (std::vector<bool>{true, false, false}));
  }
}

TEST(FaultArmTest, SeveralArmsOnOnePointFirstFiringDecides) {
  ScopedFaults scoped("kernel.error:nth=2,kernel.error:nth=3:rank=1");
  EXPECT_TRUE(check(Point::kKernelError, {.rank = 1}).ok());   // arm1 hit 1, arm2 hit 1
  EXPECT_FALSE(check(Point::kKernelError, {.rank = 1}).ok());  // arm1 hit 2 fires
  EXPECT_TRUE(check(Point::kKernelError, {.rank = 1}).ok());   // arm1 hit 3, arm2 hit 2
  EXPECT_FALSE(check(Point::kKernelError, {.rank = 1}).ok());  // arm2 hit 3 fires
  EXPECT_EQ(armed_summary(), "kernel.error:nth=2,kernel.error:nth=3:rank=1");
}

TEST(FaultArmTest, TooManyArmsIsRefusedWhole) {
  ScopedFaults scoped("");
  std::string spec;
  for (int i = 0; i < kMaxArmsPerPoint; ++i) spec += (i ? "," : "") + std::string("kernel.error");
  ASSERT_TRUE(arm_faults_from_spec(spec).ok());
  Status s = arm_faults_from_spec("tokenizer.error,kernel.error");
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
  EXPECT_TRUE(check(Point::kTokenizerError).ok());  // nothing of the refused spec armed
  ArmSpec one;
  one.point = Point::kKernelError;
  EXPECT_EQ(arm(one).code(), StatusCode::kResourceExhausted);
  ArmSpec bad;
  bad.point = Point::kTokenizerError;
  bad.when = ArmSpec::When::kEvery;  // n = 0 would divide by zero
  EXPECT_EQ(arm(bad).code(), StatusCode::kInvalidArgument);
}

TEST(FaultArmTest, ProbabilityIsSeededAndNearP) {
  auto run = [](const char* spec) {
    ScopedFaults scoped(spec);
    return hits(Point::kTokenizerError, 10000);
  };
  std::vector<bool> a = run("tokenizer.error:p=0.3:seed=42");
  std::vector<bool> b = run("tokenizer.error:p=0.3:seed=42");
  std::vector<bool> c = run("tokenizer.error:p=0.3:seed=43");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (const auto* v : {&a, &c}) {
    double fired = static_cast<double>(std::count(v->begin(), v->end(), true));
    double sigma = std::sqrt(10000 * 0.3 * 0.7);
    EXPECT_NEAR(fired, 3000, 4 * sigma);
  }
  std::vector<bool> never = run("tokenizer.error:p=0");
  EXPECT_EQ(std::count(never.begin(), never.end(), true), 0);
  std::vector<bool> always = run("tokenizer.error:p=1");
  EXPECT_EQ(std::count(always.begin(), always.end(), true), 10000);
}

TEST(FaultArmTest, RankAndPhaseFiltersCountOnlyMatchingHits) {
  ScopedFaults scoped("rank.dead:rank=3:nth=2,step.stall:phase=sample:stall=0ms");
  EXPECT_TRUE(check(Point::kRankDead, {.rank = 0}).ok());
  EXPECT_TRUE(check(Point::kRankDead, {.rank = 3}).ok());   // rank 3's hit 1
  EXPECT_TRUE(check(Point::kRankDead).ok());                // no rank: never matches
  EXPECT_TRUE(check(Point::kRankDead, {.rank = 1}).ok());
  Status s = check(Point::kRankDead, {.rank = 3});           // rank 3's hit 2
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "injected fault rank.dead (hit 2, rank 3)");
  EXPECT_EQ(counters(Point::kRankDead).hits, 5u);
  EXPECT_EQ(counters(Point::kRankDead).injections, 1u);

  EXPECT_TRUE(check(Point::kStepStall, {.phase = "forward"}).ok());
  EXPECT_EQ(counters(Point::kStepStall).injections, 0u);
  EXPECT_TRUE(check(Point::kStepStall, {.phase = "sample"}).ok());  // a 0 ms stall: OK
  EXPECT_EQ(counters(Point::kStepStall).injections, 1u);
}

TEST(FaultStallTest, StallsItsLengthInSlicesThenReturnsOk) {
  ScopedFaults scoped("step.stall:stall=250ms");
  FakeStallClock clock;
  set_stall_clock(&clock);
  SteadyTime start = clock.now();
  EXPECT_TRUE(check(Point::kStepStall).ok());
  EXPECT_EQ(clock.now() - start, milliseconds(250));
  EXPECT_EQ(clock.sleeps_, 25);
  EXPECT_LE(clock.longest_sleep_, kStallSlice);
}

TEST(FaultStallTest, StallPointsStallByDefaultAndAnyPointCanStall) {
  ScopedFaults scoped("tokenizer.stall:count=1,kv_pool.alloc:stall=30ms:count=1");
  FakeStallClock clock;
  set_stall_clock(&clock);
  SteadyTime start = clock.now();
  EXPECT_TRUE(check(Point::kTokenizerStall).ok());
  EXPECT_EQ(clock.now() - start, kDefaultStall);
  start = clock.now();
  EXPECT_TRUE(check(Point::kKvPoolAlloc).ok());  // stalled instead of failing
  EXPECT_EQ(clock.now() - start, milliseconds(30));
}

TEST(FaultStallTest, StallEndsAtTheDeadline) {
  ScopedFaults scoped("collective.stall:stall=10s");
  FakeStallClock clock;
  set_stall_clock(&clock);
  SteadyTime start = clock.now();
  Status s = check(Point::kCollectiveStall,
                   {.rank = 1, .deadline = Deadline(start + milliseconds(125))});
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.to_string();
  EXPECT_EQ(clock.now() - start, milliseconds(125));  // the last slice is cut to the deadline
  EXPECT_EQ(s.message(),
            "injected fault collective.stall (hit 1, rank 1) stalled 125 ms of 10000 ms, "
            "then reached its deadline");
}

TEST(FaultStallTest, StallEndsWhenAborted) {
  ScopedFaults scoped("step.stall:stall=10s");
  FakeStallClock clock;
  set_stall_clock(&clock);
  std::atomic<bool> abort{false};
  SteadyTime start = clock.now();
  clock.on_sleep_ = [&](SteadyTime now) {
    if (now - start >= milliseconds(40)) abort = true;
  };
  Status s = check(Point::kStepStall, {.phase = "forward", .abort = &abort});
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.to_string();
  EXPECT_EQ(clock.now() - start, milliseconds(40));
  EXPECT_NE(s.message().find("stalled 40 ms of 10000 ms, then was aborted"),
            std::string_view::npos);
}

TEST(FaultStallTest, RealStallHonoursAbortPromptly) {
  ScopedFaults scoped("step.stall:stall=60s");
  std::atomic<bool> abort{false};
  auto start = std::chrono::steady_clock::now();
  std::thread aborter([&] {
    std::this_thread::sleep_for(milliseconds(30));
    abort = true;
  });
  Status s = check(Point::kStepStall, {.abort = &abort});
  aborter.join();
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(FaultConcurrencyTest, CountsAreExactUnderEightThreads) {
  ScopedFaults scoped("kv_pool.alloc_blocks:every=3,kernel.error:count=100,weights.alloc:nth=5000");
  constexpr int kThreads = 8, kHits = 10000;
  std::atomic<int> failures{0}, kernel_failures{0}, weight_failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kHits; ++i) {
        if (!check(Point::kKvPoolAllocBlocks, {.rank = t}).ok()) ++failures;
        if (!check(Point::kKernelError).ok()) ++kernel_failures;
        if (!check(Point::kWeightsAlloc).ok()) ++weight_failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counters(Point::kKvPoolAllocBlocks).hits, uint64_t{kThreads * kHits});
  EXPECT_EQ(counters(Point::kKvPoolAllocBlocks).injections, uint64_t{kThreads * kHits / 3});
  EXPECT_EQ(failures.load(), kThreads * kHits / 3);
  EXPECT_EQ(kernel_failures.load(), 100);
  EXPECT_EQ(counters(Point::kKernelError).injections, 100u);
  EXPECT_EQ(weight_failures.load(), 1);
  EXPECT_EQ(total_injections(), uint64_t{kThreads * kHits / 3 + 100 + 1});
}

TEST(FaultConcurrencyTest, ArmingWhileHittingIsSafe) {
  disarm_all();
  std::atomic<bool> stop{false};
  std::vector<std::thread> hitters;
  for (int t = 0; t < 4; ++t) {
    hitters.emplace_back([&] {
      while (!stop) (void)check(Point::kTokenizerError);
    });
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(arm_faults_from_spec("tokenizer.error:every=2").ok());
    disarm_all();
  }
  stop = true;
  for (auto& th : hitters) th.join();
  EXPECT_FALSE(any_armed());
}

// A child forked while another thread arms and disarms in a loop (so the
// arming mutex may be held at the fork) can still hit armed points: the hit
// path takes no lock.
TEST(FaultForkTest, ChildHitsPointsWhileParentArms) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  ScopedFaults scoped("tokenizer.error:every=2");
  std::atomic<bool> stop{false};
  std::thread armer([&] {
    while (!stop) {
      (void)arm_faults_from_spec("kernel.error");
      (void)armed_summary();
      ArmSpec s;
      s.point = Point::kTokenizerError;
      s.when = ArmSpec::When::kEvery;
      s.n = 2;
      // Keep tokenizer.error armed: disarm everything, rearm it.
      disarm_all();
      (void)arm(s);
    }
  });
  for (int i = 0; i < 20; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(10);  // a hang fails the test, never CI
      for (int k = 0; k < 1000; ++k) (void)check(Point::kTokenizerError);
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  stop = true;
  armer.join();
}

TEST(FaultEnvTest, ArmsFromKeelFaults) {
  ScopedFaults scoped("");
  ::setenv("KEEL_FAULTS", "kernel.error:nth=1", 1);
  EXPECT_TRUE(arm_faults_from_env().ok());
  EXPECT_FALSE(check(Point::kKernelError).ok());
  disarm_all();
  ::setenv("KEEL_FAULTS", "nope", 1);
  Status s = arm_faults_from_env();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("KEEL_FAULTS: fault spec entry 'nope'"), std::string_view::npos)
      << s.to_string();
  ::unsetenv("KEEL_FAULTS");
  EXPECT_TRUE(arm_faults_from_env().ok());
  EXPECT_FALSE(any_armed());
}

}  // namespace
}  // namespace keel::fault
