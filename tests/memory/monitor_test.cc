#include "keel/memory/monitor.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "keel/core/logging.h"
#include "keel/memory/device.h"
#include "keel/memory/kv_block_pool.h"

namespace keel::memory {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kKiBPerGiB = 1ull << 20;

// Collects log lines at warn/error/info for the tests to count.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  struct Line {
    spdlog::level::level_enum level;
    std::string text;
  };
  std::vector<Line> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.push_back({msg.level, std::string(msg.payload.data(), msg.payload.size())});
  }
  void flush_() override {}

 private:
  std::vector<Line> lines_;  // guarded by mutex_ (base_sink's)
};

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("keel_monitor_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    options_.paths.proc_meminfo = (root_ / "meminfo").string();
    options_.paths.proc_self_cgroup = (root_ / "cgroup").string();
    options_.paths.cgroup_root = (root_ / "sys").string();
    options_.paths.proc_self_status = (root_ / "status").string();
    sink_ = std::make_shared<CaptureSink>();
    keel::log::logger().sinks().push_back(sink_);
    saved_level_ = keel::log::logger().level();
    keel::log::logger().set_level(spdlog::level::info);
  }
  void TearDown() override {
    auto& sinks = keel::log::logger().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    keel::log::logger().set_level(saved_level_);
    fs::remove_all(root_);
  }

  void write(const fs::path& rel, const std::string& text) {
    fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  void meminfo_kib(uint64_t total_kib, uint64_t available_kib) {
    write("meminfo", "MemTotal:       " + std::to_string(total_kib) +
                         " kB\nMemFree:          1000 kB\nMemAvailable:   " +
                         std::to_string(available_kib) + " kB\n");
  }
  // A 100 GiB machine with `used_percent` % used.
  void host_used(double used_percent) {
    uint64_t total = 100 * kKiBPerGiB;
    double available = static_cast<double>(total) * (100 - used_percent) / 100;
    meminfo_kib(total, static_cast<uint64_t>(available));
  }
  void rss_kib(uint64_t kib) {
    write("status", "Name:\tkeel\nVmPeak:\t 999 kB\nVmRSS:\t  " + std::to_string(kib) + " kB\n");
  }

  std::unique_ptr<MemoryMonitor> make(MonitorOptions options) {
    auto m = MemoryMonitor::create(std::move(options));
    KEEL_CHECK(m.ok()) << m.status().to_string();
    return std::move(*m);
  }
  std::unique_ptr<MemoryMonitor> make() { return make(options_); }

  int count(spdlog::level::level_enum level, std::string_view text = "memory pressure") {
    int n = 0;
    for (const auto& l : sink_->lines()) {
      if (l.level == level && l.text.find(text) != std::string::npos) ++n;
    }
    return n;
  }
  std::string last_line() {
    auto lines = sink_->lines();
    return lines.empty() ? "" : lines.back().text;
  }

  SteadyTime t() { return clock_.now(); }

  fs::path root_;
  MonitorOptions options_;
  std::shared_ptr<CaptureSink> sink_;
  spdlog::level::level_enum saved_level_ = spdlog::level::info;
  FakeClock clock_;
};

TEST_F(MonitorTest, HostLevelsWithHysteresisLogOneLinePerCrossing) {
  rss_kib(1024);
  auto m = make();
  struct Step {
    double used_percent;
    PressureLevel level;
    int warn_lines, error_lines, info_lines;  // cumulative
  };
  const Step steps[] = {
      {50, PressureLevel::kNormal, 0, 0, 0},
      {86, PressureLevel::kWarning, 1, 0, 0},
      {88, PressureLevel::kWarning, 1, 0, 0},   // no new line while it stays
      {81, PressureLevel::kWarning, 1, 0, 0},   // below 85 but not below 80: held
      {79, PressureLevel::kNormal, 1, 0, 1},
      {96, PressureLevel::kCritical, 1, 1, 1},  // straight to critical: one ERROR line
      {97, PressureLevel::kCritical, 1, 1, 1},
      {91, PressureLevel::kCritical, 1, 1, 1},  // held until below 90
      {89, PressureLevel::kWarning, 2, 1, 1},   // eased: one WARN line
      {70, PressureLevel::kNormal, 2, 1, 2},
  };
  for (const Step& s : steps) {
    host_used(s.used_percent);
    MonitorSnapshot snap = m->sample_once(t());
    SCOPED_TRACE(s.used_percent);
    EXPECT_EQ(snap.level, s.level);
    EXPECT_EQ(m->level(), s.level);
    EXPECT_EQ(count(spdlog::level::warn), s.warn_lines);
    EXPECT_EQ(count(spdlog::level::err), s.error_lines);
    EXPECT_EQ(count(spdlog::level::info), s.info_lines);
    EXPECT_TRUE(snap.problems.empty());
    ASSERT_EQ(snap.resources.size(), 1u);
    EXPECT_EQ(snap.resources[0].resource, "host");
    EXPECT_NEAR(*snap.host.usage_fraction, s.used_percent / 100, 1e-6);
    EXPECT_EQ(snap.reason.empty(), s.level == PressureLevel::kNormal);
  }
  EXPECT_EQ(m->snapshot().num_samples, std::size(steps));
}

TEST_F(MonitorTest, ReasonAndLogLineCarryTheNumbers) {
  rss_kib(1024);
  meminfo_kib(24 * kKiBPerGiB, uint64_t{940} * 1024);  // 96.2% used
  auto m = make();
  MonitorSnapshot snap = m->sample_once(t());
  EXPECT_EQ(snap.level, PressureLevel::kCritical);
  EXPECT_EQ(snap.reason,
            "host memory 96.2% used (23.08 GiB of 24.00 GiB, MemAvailable 940.00 MiB) >= "
            "critical 95%");
  EXPECT_EQ(last_line(), "memory pressure critical: " + snap.reason);
  EXPECT_EQ(snap.host.rss_bytes, 1024u * 1024);
  EXPECT_FALSE(snap.host.cgroup.has_value());

  meminfo_kib(24 * kKiBPerGiB, static_cast<uint64_t>(2.0 * kKiBPerGiB));  // 91.7%: held
  snap = m->sample_once(t());
  EXPECT_EQ(snap.level, PressureLevel::kCritical);
  EXPECT_NE(snap.reason.find("91.7% used"), std::string::npos) << snap.reason;
  EXPECT_NE(snap.reason.find("(critical until below 90%)"), std::string::npos) << snap.reason;
}

TEST_F(MonitorTest, CgroupLimitAgainstRss) {
  host_used(40);
  write("cgroup", "0::/keel\n");
  write("sys/keel/memory.max", std::to_string(8 * kGiB) + "\n");
  write("sys/keel/memory.current", std::to_string(7 * kGiB) + "\n");
  rss_kib(static_cast<uint64_t>(7.7 * kKiBPerGiB));
  auto m = make();
  MonitorSnapshot snap = m->sample_once(t());
  ASSERT_TRUE(snap.host.cgroup.has_value());
  EXPECT_EQ(snap.host.cgroup->limit_bytes, 8 * kGiB);
  EXPECT_EQ(snap.host.cgroup->usage_bytes, 7 * kGiB);
  EXPECT_EQ(snap.level, PressureLevel::kCritical);
  EXPECT_EQ(snap.reason,
            "process RSS 7.70 GiB is 96.2% of the cgroup v2 limit 8.00 GiB >= critical 95%");

  write("sys/keel/memory.max", "max\n");  // the limit is lifted: MemAvailable decides
  snap = m->sample_once(t());
  EXPECT_FALSE(snap.host.cgroup.has_value());
  EXPECT_EQ(snap.level, PressureLevel::kNormal);
  EXPECT_TRUE(snap.problems.empty());
  EXPECT_EQ(count(spdlog::level::info), 1);
}

TEST_F(MonitorTest, MissingCgroupFilesAreNormal) {
  host_used(30);
  rss_kib(1024);
  write("cgroup", "0::/gone\n");  // no files under sys/
  auto m = make();
  MonitorSnapshot snap = m->sample_once(t());
  EXPECT_FALSE(snap.host.cgroup.has_value());
  EXPECT_TRUE(snap.problems.empty());
  EXPECT_EQ(snap.level, PressureLevel::kNormal);
}

TEST_F(MonitorTest, MalformedFilesGiveProblemsNotCrashesAndHoldTheLevel) {
  rss_kib(1024);
  host_used(90);
  auto m = make();
  EXPECT_EQ(m->sample_once(t()).level, PressureLevel::kWarning);

  write("meminfo", "MemTotal: lots\nMemAvailable: few kB\n");
  write("status", "VmRSS: -3 kB\n");
  write("cgroup", "garbage without colons\n");
  for (int i = 0; i < 3; ++i) {
    MonitorSnapshot snap = m->sample_once(t());
    EXPECT_EQ(snap.level, PressureLevel::kWarning);  // no information: held
    EXPECT_FALSE(snap.host.usage_fraction.has_value());
    ASSERT_EQ(snap.problems.size(), 2u);
    EXPECT_NE(snap.problems[0].find("process RSS unknown"), std::string::npos);
    EXPECT_NE(snap.problems[0].find("has no number"), std::string::npos) << snap.problems[0];
    EXPECT_NE(snap.problems[1].find("host memory unknown"), std::string::npos);
    EXPECT_EQ(snap.resources[0].description, "host memory unknown this sample");
  }
  EXPECT_EQ(count(spdlog::level::warn, "memory monitor cannot read everything"), 1);

  fs::remove(root_ / "meminfo");
  fs::remove(root_ / "status");
  MonitorSnapshot snap = m->sample_once(t());
  EXPECT_NE(snap.problems[0].find("cannot read"), std::string::npos) << snap.problems[0];
  EXPECT_EQ(count(spdlog::level::warn, "memory monitor cannot read everything"), 2);

  write("meminfo", "MemTotal: 0 kB\nMemAvailable: 0 kB\n");
  snap = m->sample_once(t());
  EXPECT_NE(snap.problems.back().find("MemTotal is 0"), std::string::npos);

  rss_kib(1024);
  host_used(50);
  snap = m->sample_once(t());
  EXPECT_TRUE(snap.problems.empty());
  EXPECT_EQ(snap.level, PressureLevel::kNormal);
  EXPECT_EQ(count(spdlog::level::info, "memory monitor reads everything again"), 1);
}

// keel's own KV pool in host memory is planned, not pressure: a server that
// fills its default budget must not start in warning.
TEST_F(MonitorTest, HostUsageLeavesOutTheBudgetsKvPools) {
  rss_kib(1024);
  host_used(90);  // 90 GiB of 100 used, 80 of them keel's KV pool
  MemoryBudget budget(95 * kGiB, "cpu");
  auto kv = budget.reserve(80 * kGiB, "KV pool");
  ASSERT_TRUE(kv.ok());
  auto m = make();
  m->add_budget(budget);
  MonitorSnapshot snap = m->sample_once(t());
  EXPECT_NEAR(*snap.host.usage_fraction, 0.5, 1e-6);  // (90 - 80) / (100 - 80)
  EXPECT_EQ(snap.level, PressureLevel::kNormal);
  EXPECT_NE(snap.resources[0].description.find("KV pools 80.00 GiB not counted"), std::string::npos)
      << snap.resources[0].description;

  options_.host_excludes_kv_pools = false;  // a device budget: its pool is not host memory
  auto m2 = make();
  m2->add_budget(budget);
  snap = m2->sample_once(t());
  EXPECT_NEAR(*snap.host.usage_fraction, 0.9, 1e-6);
  EXPECT_EQ(snap.level, PressureLevel::kWarning);
}

TEST_F(MonitorTest, BudgetUsageLeavesOutTheKvPool) {
  options_.sample_host = false;
  auto m = make();
  MemoryBudget budget(100 * kMiB, "cpu");
  m->add_budget(budget);
  auto kv = budget.reserve(50 * kMiB, "KV pool");
  auto weights = budget.reserve(40 * kMiB, "weights");
  ASSERT_TRUE(kv.ok() && weights.ok());
  MonitorSnapshot snap = m->sample_once(t());
  ASSERT_EQ(snap.budgets.size(), 1u);
  EXPECT_EQ(snap.budgets[0].kv_pool_bytes, 50 * kMiB);
  EXPECT_DOUBLE_EQ(snap.budgets[0].usage_fraction, 0.4);
  EXPECT_EQ(snap.level, PressureLevel::kNormal);  // 90% reserved, but 50% is the pool

  auto workspace = budget.reserve(6 * kMiB, "workspace");
  ASSERT_TRUE(workspace.ok());
  kv->release();
  auto more = budget.reserve(40 * kMiB, "rope table");
  ASSERT_TRUE(more.ok());
  snap = m->sample_once(t());
  EXPECT_EQ(snap.level, PressureLevel::kWarning);
  EXPECT_EQ(snap.reason,
            "budget cpu 86.0% reserved outside the KV pool (budget 100.00 MiB, 86.00 MiB "
            "reserved (rope table 40.00 MiB, weights 40.00 MiB, workspace 6.00 MiB), 14.00 MiB "
            "free) >= warning 85%");
  ASSERT_EQ(snap.resources.size(), 1u);
  EXPECT_EQ(snap.resources[0].resource, "budget cpu");
}

TEST_F(MonitorTest, KvPoolsAreReportedWithoutALevel) {
  options_.sample_host = false;
  auto m = make();
  CpuDevice cpu(64 * kMiB);
  KvCacheShape shape;
  shape.num_layers = 1;
  shape.num_kv_heads = 1;
  shape.head_dim = 4;
  shape.block_size_tokens = 16;
  auto pool = KvBlockPool::create(shape, 4, cpu);
  ASSERT_TRUE(pool.ok());
  m->add_kv_pool(**pool);
  m->add_budget(cpu.budget());
  auto blocks = (*pool)->allocate(4);  // a full pool is normal operation
  ASSERT_TRUE(blocks.ok());
  MonitorSnapshot snap = m->sample_once(t());
  ASSERT_EQ(snap.kv_pools.size(), 1u);
  EXPECT_EQ(snap.kv_pools[0].name, "KV pool");
  EXPECT_EQ(snap.kv_pools[0].used_blocks, 4);
  EXPECT_EQ(snap.kv_pools[0].total_blocks, 4);
  EXPECT_EQ(snap.level, PressureLevel::kNormal);
  ASSERT_TRUE((*pool)->release_all(*blocks).ok());
}

class FakeProbe final : public DeviceMemoryProbe {
 public:
  Result<std::vector<DeviceMemorySample>> sample() override {
    std::lock_guard<std::mutex> lock(mu);
    if (!error.ok()) return error;
    return devices;
  }
  std::mutex mu;
  std::vector<DeviceMemorySample> devices;
  Status error;
};

TEST_F(MonitorTest, DeviceProbesHaveLevelsAndFailuresAreProblems) {
  options_.sample_host = false;
  auto m = make();
  auto probe = std::make_shared<FakeProbe>();
  probe->devices = {{"cuda:0", 80 * kGiB, 40 * kGiB}, {"cuda:1", 80 * kGiB, 2 * kGiB}};
  m->add_device_probe(probe);
  m->add_device_probe(std::make_shared<CpuDeviceMemoryProbe>());
  MonitorSnapshot snap = m->sample_once(t());
  ASSERT_EQ(snap.devices.size(), 2u);
  ASSERT_EQ(snap.resources.size(), 2u);
  EXPECT_EQ(snap.resources[0].level, PressureLevel::kNormal);
  EXPECT_EQ(snap.resources[1].level, PressureLevel::kCritical);
  EXPECT_EQ(snap.reason,
            "device cuda:1 memory 97.5% used (78.00 GiB of 80.00 GiB, 2.00 GiB free) >= critical "
            "95%");

  probe->error = UnavailableError("driver gone");
  snap = m->sample_once(t());
  EXPECT_EQ(snap.problems, std::vector<std::string>{"device memory unknown: driver gone"});
  // The devices were not seen this sample: their levels are forgotten.
  EXPECT_EQ(snap.level, PressureLevel::kNormal);
}

TEST_F(MonitorTest, ListenersHearOverallLevelChangesOnly) {
  options_.sample_host = false;
  auto m = make();
  MemoryBudget budget(100 * kMiB, "cpu");
  MemoryBudget other(100 * kMiB, "cuda:0");
  m->add_budget(budget);
  m->add_budget(other);
  std::vector<std::pair<PressureLevel, std::string>> heard;
  int id = m->add_listener([&](const MonitorSnapshot& s) {
    heard.emplace_back(s.level, s.reason);
    EXPECT_EQ(m->snapshot().level, s.level);  // snapshot() may be called from a listener
  });
  auto a = budget.reserve(90 * kMiB, "weights");
  m->sample_once(t());                      // warning
  auto b = other.reserve(88 * kMiB, "weights");
  m->sample_once(t());                      // still warning overall: no call
  auto c = other.reserve(8 * kMiB, "workspace");
  m->sample_once(t());                      // critical (cuda:0 96%)
  c->release();
  b->release();
  a->release();
  m->sample_once(t());                      // normal
  ASSERT_EQ(heard.size(), 3u);
  EXPECT_EQ(heard[0].first, PressureLevel::kWarning);
  EXPECT_NE(heard[0].second.find("budget cpu 90.0%"), std::string::npos);
  EXPECT_EQ(heard[1].first, PressureLevel::kCritical);
  EXPECT_NE(heard[1].second.find("budget cuda:0 96.0%"), std::string::npos);
  EXPECT_EQ(heard[2].first, PressureLevel::kNormal);
  EXPECT_EQ(heard[2].second, "");
  EXPECT_EQ(count(spdlog::level::warn), 2);  // cpu and cuda:0 each entered warning once
  EXPECT_EQ(count(spdlog::level::err), 1);
  EXPECT_EQ(count(spdlog::level::info), 2);

  m->remove(id);
  auto d = budget.reserve(99 * kMiB, "weights");
  m->sample_once(t());
  EXPECT_EQ(heard.size(), 3u);
}

TEST_F(MonitorTest, RemovedSourcesAreNotCalled) {
  options_.sample_host = false;
  auto m = make();
  std::atomic<int> calls{0};
  int id = m->add_budget_source([&] {
    ++calls;
    BudgetSnapshot b;
    b.name = "x";
    b.limit_bytes = 10;
    return b;
  });
  m->sample_once(t());
  m->remove(id);
  m->remove(12345);  // unknown: ignored
  m->sample_once(t());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(m->snapshot().budgets.empty());
}

TEST_F(MonitorTest, OptionsAreValidated) {
  auto bad = [](MonitorOptions o) { return MemoryMonitor::create(o).status(); };
  MonitorOptions o;
  o.warn_fraction = 0.96;
  Status s = bad(o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "memory thresholds: warning 96% and critical 95% must satisfy 0 < warning < "
            "critical <= 100%");
  o = {};
  o.critical_fraction = 1.2;
  EXPECT_EQ(bad(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.hysteresis_fraction = -0.1;
  EXPECT_EQ(bad(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.interval = std::chrono::milliseconds(0);
  EXPECT_EQ(bad(o).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(MonitorOptions{}.validate().ok());
}

TEST_F(MonitorTest, BackgroundThreadSamplesAndStopsPromptly) {
  host_used(50);
  rss_kib(1024);
  options_.interval = std::chrono::milliseconds(5);
  options_.clock = &clock_;
  auto m = make();
  ASSERT_TRUE(m->start().ok());
  EXPECT_TRUE(m->running());
  EXPECT_EQ(m->start().code(), StatusCode::kFailedPrecondition);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (m->snapshot().num_samples < 3 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(m->snapshot().num_samples, 3u);
  EXPECT_EQ(m->snapshot().sampled_at, clock_.now());  // stamped by the injected clock
  m->stop();
  EXPECT_FALSE(m->running());
  uint64_t n = m->snapshot().num_samples;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(m->snapshot().num_samples, n);
  m->stop();  // idempotent

  // A long interval does not delay stop(): it wakes the waiting thread.
  MonitorOptions slow = options_;
  slow.interval = std::chrono::hours(1);
  auto s = make(slow);
  ASSERT_TRUE(s->start().ok());
  auto start = std::chrono::steady_clock::now();
  s->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_GE(s->snapshot().num_samples, 1u);  // start() samples at once

  auto dropped = make(slow);
  ASSERT_TRUE(dropped->start().ok());
  dropped.reset();  // the destructor stops the thread
}

TEST_F(MonitorTest, SnapshotIsSafeWhileSampling) {
  host_used(50);
  rss_kib(1024);
  options_.interval = std::chrono::milliseconds(1);
  auto m = make();
  MemoryBudget budget(100 * kMiB, "cpu");
  m->add_budget(budget);
  ASSERT_TRUE(m->start().ok());
  std::atomic<bool> stop{false};
  std::thread reserver([&] {
    while (!stop) {
      auto r = budget.reserve(90 * kMiB, "weights");
      std::this_thread::yield();
    }
  });
  for (int i = 0; i < 2000; ++i) {
    MonitorSnapshot s = m->snapshot();
    for (const ResourcePressure& r : s.resources) ASSERT_FALSE(r.resource.empty());
    (void)m->level();
  }
  stop = true;
  reserver.join();
  m->stop();
}

}  // namespace
}  // namespace keel::memory
