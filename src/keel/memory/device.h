// Device: where tensors live, with the budget their memory is reserved from.
//
// Concepts
// - A Device has a name ("cpu", later "cuda:0"), a kind, one MemoryBudget,
//   and reports the memory the OS or driver says it has (query_memory()).
// - allocate(bytes, what) is the only way to get device memory: it reserves
//   from the budget first, then allocates; the DeviceBuffer owns both and
//   gives both back when destroyed. If the reservation or the allocation
//   fails, nothing is held and the Status says which.
// - CpuDevice allocates 64-byte-aligned host memory and touches (zeroes)
//   every page at allocation time, so the pages are committed at start-up
//   rather than faulted in (and possibly OOM-killed) on the hot path.
//   Buffers of kHugePageThresholdBytes or more are mapped 2 MiB-aligned and
//   advised as transparent huge pages: 512x fewer page faults at start-up
//   (on this VM a 1 GiB model spent most of its load time faulting 4 KiB
//   pages) and fewer TLB misses when a decode step streams the weights.
// - A CUDA device implements the same interface later (cudaMalloc,
//   cudaMemGetInfo); a CPU-only build has none.
// Thread-safety: Device methods are safe to call concurrently. A
// DeviceBuffer is a move-only value owned by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "keel/core/huge_pages.h"
#include "keel/core/result.h"
#include "keel/memory/budget.h"

namespace keel::memory {

enum class DeviceKind { kCpu, kCuda };
std::string_view device_kind_name(DeviceKind kind);  // "cpu", "cuda"

// Memory as the OS or driver reports it (not the keel budget).
struct DeviceMemoryInfo {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
};

// Owns `bytes` of device memory and the budget reservation that covers them.
class DeviceBuffer {
 public:
  // Frees (data, bytes) as allocated.
  using FreeFn = void (*)(void*, uint64_t);
  DeviceBuffer() = default;
  DeviceBuffer(void* data, uint64_t bytes, Reservation reservation, FreeFn free_fn)
      : data_(data), bytes_(bytes), reservation_(std::move(reservation)), free_fn_(free_fn) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  uint64_t bytes() const { return bytes_; }
  bool empty() const { return data_ == nullptr; }
  // Frees the memory, then returns the reservation.
  void reset();

 private:
  void* data_ = nullptr;
  uint64_t bytes_ = 0;
  Reservation reservation_;
  FreeFn free_fn_ = nullptr;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual std::string_view name() const = 0;
  virtual DeviceKind kind() const = 0;
  virtual MemoryBudget& budget() = 0;
  // Total and free memory as the OS/driver reports it right now.
  virtual Result<DeviceMemoryInfo> query_memory() const = 0;
  // Reserves then allocates `bytes` (> 0) labelled `what`. ResourceExhausted
  // if the budget refuses or the allocation fails; InvalidArgument for 0.
  virtual Result<DeviceBuffer> allocate(uint64_t bytes, std::string_view what) = 0;
};

class CpuDevice final : public Device {
 public:
  static constexpr uint64_t kAlignmentBytes = 64;  // a cache line; AVX-512 loads
  static constexpr uint64_t kHugePageBytes = keel::kHugePageBytes;
  static constexpr uint64_t kHugePageThresholdBytes = uint64_t{4} << 20;

  explicit CpuDevice(uint64_t budget_limit_bytes) : budget_(budget_limit_bytes, "cpu") {}

  std::string_view name() const override { return "cpu"; }
  DeviceKind kind() const override { return DeviceKind::kCpu; }
  MemoryBudget& budget() override { return budget_; }
  // MemTotal and MemAvailable from /proc/meminfo, each capped by the cgroup
  // limit (memory.max / memory.limit_in_bytes) when one is set.
  Result<DeviceMemoryInfo> query_memory() const override;
  Result<DeviceBuffer> allocate(uint64_t bytes, std::string_view what) override;

 private:
  MemoryBudget budget_;
};

}  // namespace keel::memory
