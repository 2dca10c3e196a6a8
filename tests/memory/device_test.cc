#include "keel/memory/device.h"

#include <gtest/gtest.h>

#include <cstring>

#include "keel/memory/system_memory.h"

namespace keel::memory {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

TEST(CpuDeviceTest, AllocatesFromTheBudgetAndGivesBack) {
  CpuDevice cpu(4 * kMiB);
  EXPECT_EQ(cpu.name(), "cpu");
  EXPECT_EQ(cpu.kind(), DeviceKind::kCpu);
  EXPECT_EQ(device_kind_name(cpu.kind()), "cpu");
  {
    auto buf = cpu.allocate(3 * kMiB + 5, "workspace");
    ASSERT_TRUE(buf.ok()) << buf.status().to_string();
    EXPECT_EQ(buf->bytes(), 3 * kMiB + 5);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buf->data()) % CpuDevice::kAlignmentBytes, 0u);
    // Zeroed, and writable to its last byte.
    auto* bytes = static_cast<unsigned char*>(buf->data());
    EXPECT_EQ(bytes[0], 0);
    EXPECT_EQ(bytes[buf->bytes() - 1], 0);
    std::memset(bytes, 0xAB, buf->bytes());
    EXPECT_EQ(cpu.budget().reserved_bytes(), 3 * kMiB + 5);

    auto too_big = cpu.allocate(2 * kMiB, "KV pool");
    ASSERT_FALSE(too_big.ok());
    EXPECT_EQ(too_big.status().code(), StatusCode::kResourceExhausted);
    EXPECT_NE(too_big.status().message().find("KV pool needs 2.00 MiB"), std::string_view::npos)
        << too_big.status().message();

    DeviceBuffer moved = std::move(*buf);
    EXPECT_TRUE(buf->empty());
    EXPECT_EQ(moved.bytes(), 3 * kMiB + 5);
  }
  EXPECT_EQ(cpu.budget().reserved_bytes(), 0u);
}

TEST(CpuDeviceTest, ZeroBytesIsInvalid) {
  CpuDevice cpu(kMiB);
  auto r = cpu.allocate(0, "workspace");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("0 bytes for workspace"), std::string_view::npos);
}

TEST(CpuDeviceTest, InjectedFaultLeavesNothingReserved) {
  CpuDevice cpu(kMiB);
  cpu.budget().set_fault_injector(std::make_shared<ScriptedFaultInjector>("weights", 0, -1));
  auto r = cpu.allocate(1024, "weights");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "injected fault: weights needs 1.00 KiB");
  EXPECT_EQ(cpu.budget().reserved_bytes(), 0u);
  EXPECT_TRUE(cpu.allocate(1024, "workspace").ok());
}

TEST(CpuDeviceTest, QueryMemoryReportsThisMachine) {
  CpuDevice cpu(kMiB);
  auto info = cpu.query_memory();
  if (!info.ok() && info.status().code() == StatusCode::kNotFound) {
    GTEST_SKIP() << "no /proc/meminfo here: " << info.status().to_string();
  }
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_GT(info->total_bytes, 0u);
  EXPECT_LE(info->free_bytes, info->total_bytes);
}

// Large buffers take the huge-page path: 2 MiB aligned, zeroed, accounted,
// and unmapped (not free()d) when released.
TEST(CpuDeviceTest, LargeBuffersAreHugePageAlignedZeroedAndAccounted) {
  CpuDevice device(uint64_t{64} << 20);
  const uint64_t bytes = CpuDevice::kHugePageThresholdBytes + 12345;  // not a page multiple
  {
    auto buf = device.allocate(bytes, "weights");
    ASSERT_TRUE(buf.ok()) << buf.status().to_string();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buf->data()) % CpuDevice::kHugePageBytes, 0u);
    EXPECT_EQ(device.budget().reserved_bytes(), bytes);
    const auto* p = static_cast<const unsigned char*>(buf->data());
    for (uint64_t i = 0; i < bytes; i += 4093) ASSERT_EQ(p[i], 0) << i;
    std::memset(buf->data(), 0xab, bytes);  // every byte writable
  }
  EXPECT_EQ(device.budget().reserved_bytes(), 0u);
  // The address space is reusable: allocate and free many times.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(device.allocate(bytes, "weights").ok());
}

TEST(DefaultCpuBudgetTest, RealMachineGivesAPositiveBudgetBelowAvailable) {
  auto report = default_cpu_budget();
  if (!report.ok() && report.status().code() == StatusCode::kNotFound) {
    GTEST_SKIP() << "no /proc/meminfo here: " << report.status().to_string();
  }
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_GT(report->budget_bytes, 0u);
  EXPECT_LT(report->budget_bytes, report->meminfo.available_bytes);
  EXPECT_EQ(report->budget_bytes + report->headroom_bytes, report->available_bytes);
  EXPECT_NE(report->explanation.find("headroom"), std::string::npos);
}

}  // namespace
}  // namespace keel::memory
