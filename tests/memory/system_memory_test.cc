#include "keel/memory/system_memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace keel::memory {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// A fake /proc and /sys/fs/cgroup tree in a temporary folder.
class FakeSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("keel_sysmem_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    paths_.proc_meminfo = (root_ / "meminfo").string();
    paths_.proc_self_cgroup = (root_ / "cgroup").string();
    paths_.cgroup_root = (root_ / "sys").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const fs::path& rel, const std::string& text) {
    fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  void meminfo(uint64_t total_kib, uint64_t available_kib) {
    write("meminfo", "MemTotal:       " + std::to_string(total_kib) +
                         " kB\nMemFree:          1000 kB\nMemAvailable:   " +
                         std::to_string(available_kib) + " kB\n");
  }

  fs::path root_;
  SystemPaths paths_;
};

TEST_F(FakeSystem, MemInfoParsed) {
  meminfo(16 * 1024 * 1024, 8 * 1024 * 1024);
  auto m = read_meminfo(paths_);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->total_bytes, 16 * kGiB);
  EXPECT_EQ(m->available_bytes, 8 * kGiB);
}

TEST_F(FakeSystem, MemInfoErrorsNameTheProblem) {
  auto missing = read_meminfo(paths_);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("--memory-limit"), std::string_view::npos);

  write("meminfo", "MemTotal: 100 kB\n");
  auto no_available = read_meminfo(paths_);
  EXPECT_EQ(no_available.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(no_available.status().message().find("MemAvailable"), std::string_view::npos);

  write("meminfo", "MemTotal: lots kB\nMemAvailable: 5 kB\n");
  auto garbled = read_meminfo(paths_);
  EXPECT_EQ(garbled.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(garbled.status().message().find("has no number"), std::string_view::npos);
}

TEST_F(FakeSystem, NoCgroupFileMeansNoLimit) {
  EXPECT_FALSE(read_cgroup_memory(paths_).has_value());
}

TEST_F(FakeSystem, CgroupV2LimitAndUsage) {
  write("cgroup", "0::/kubepods/pod1\n");
  write("sys/kubepods/pod1/memory.max", "2147483648\n");
  write("sys/kubepods/pod1/memory.current", "536870912\n");
  auto cg = read_cgroup_memory(paths_);
  ASSERT_TRUE(cg.has_value());
  EXPECT_EQ(cg->version, 2);
  EXPECT_EQ(cg->limit_bytes, 2 * kGiB);
  EXPECT_EQ(cg->usage_bytes, 512 * kMiB);
}

TEST_F(FakeSystem, CgroupV2TightestAncestorWinsAndMaxIsUnlimited) {
  write("cgroup", "0::/a/b\n");
  write("sys/a/memory.max", "1073741824\n");
  write("sys/a/b/memory.max", "max\n");
  auto cg = read_cgroup_memory(paths_);
  ASSERT_TRUE(cg.has_value());
  EXPECT_EQ(cg->limit_bytes, kGiB);

  write("sys/a/memory.max", "max\n");
  EXPECT_FALSE(read_cgroup_memory(paths_).has_value());
}

TEST_F(FakeSystem, CgroupV2InContainerNamespaceUsesMountRoot) {
  write("cgroup", "0::/not/visible/here\n");
  write("sys/memory.max", "3221225472\n");
  auto cg = read_cgroup_memory(paths_);
  ASSERT_TRUE(cg.has_value());
  EXPECT_EQ(cg->limit_bytes, 3 * kGiB);
}

TEST_F(FakeSystem, CgroupV1MemoryControllerPreferred) {
  write("cgroup", "5:cpu,cpuacct:/\n4:memory:/job\n0::/\n");
  write("sys/memory/job/memory.limit_in_bytes", "1073741824\n");
  write("sys/memory/job/memory.usage_in_bytes", "1048576\n");
  write("sys/memory/memory.limit_in_bytes", "9223372036854771712\n");  // v1 "unlimited"
  auto cg = read_cgroup_memory(paths_);
  ASSERT_TRUE(cg.has_value());
  EXPECT_EQ(cg->version, 1);
  EXPECT_EQ(cg->limit_bytes, kGiB);
  EXPECT_EQ(cg->usage_bytes, kMiB);
}

TEST_F(FakeSystem, CgroupV1SentinelMeansUnlimited) {
  write("cgroup", "4:memory:/\n");
  write("sys/memory/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_FALSE(read_cgroup_memory(paths_).has_value());
}

TEST_F(FakeSystem, DefaultBudgetAppliesTheCgroupCapAndHeadroom) {
  meminfo(64 * 1024 * 1024, 48 * 1024 * 1024);  // 48 GiB available
  write("cgroup", "0::/svc\n");
  write("sys/svc/memory.max", std::to_string(8 * kGiB));
  write("sys/svc/memory.current", std::to_string(kGiB));
  auto r = default_cpu_budget(paths_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->available_bytes, 7 * kGiB);
  EXPECT_EQ(r->headroom_bytes, 7 * kGiB / 10);
  EXPECT_EQ(r->budget_bytes, 7 * kGiB - 7 * kGiB / 10);
  EXPECT_NE(r->explanation.find("cgroup v2 limit 8.00 GiB - usage 1.00 GiB"), std::string::npos)
      << r->explanation;
  auto bytes = default_cpu_budget_bytes(paths_);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, r->budget_bytes);
}

TEST(ComputeCpuBudgetTest, MinimumHeadroomAndNothingLeft) {
  auto small = compute_cpu_budget(MemInfo{kGiB, 1 * kGiB}, std::nullopt);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->headroom_bytes, kMinHeadroomBytes);  // 10% < 256 MiB
  EXPECT_EQ(small->budget_bytes, kGiB - kMinHeadroomBytes);

  auto none = compute_cpu_budget(MemInfo{kGiB, 200 * kMiB}, std::nullopt);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(none.status().message(),
            "only 200.00 MiB of memory is available (MemAvailable 200.00 MiB), not more than "
            "the 256.00 MiB headroom keel leaves for the system; free memory or set "
            "--memory-limit explicitly");

  // A cgroup already over its limit leaves nothing.
  auto over = compute_cpu_budget(MemInfo{8 * kGiB, 8 * kGiB}, CgroupMemory{2, kGiB, 2 * kGiB});
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace keel::memory
