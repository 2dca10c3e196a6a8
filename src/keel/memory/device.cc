#include "keel/memory/device.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "keel/core/huge_pages.h"
#include "keel/memory/bytes.h"
#include "keel/memory/system_memory.h"

namespace keel::memory {

std::string_view device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kCpu: return "cpu";
    case DeviceKind::kCuda: return "cuda";
  }
  return "unknown";
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    reservation_ = std::move(other.reservation_);
    free_fn_ = std::exchange(other.free_fn_, nullptr);
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (data_ != nullptr && free_fn_ != nullptr) free_fn_(data_, bytes_);
  data_ = nullptr;
  bytes_ = 0;
  free_fn_ = nullptr;
  reservation_.release();
}

namespace {

// Commits every page of a fresh mapping (the kernel zeroes them once);
// MADV_POPULATE_WRITE needs Linux 5.14, older kernels get the memset.
void commit_pages(void* p, uint64_t bytes) {
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;
#endif
  if (::madvise(p, huge_rounded(bytes), MADV_POPULATE_WRITE) != 0) std::memset(p, 0, bytes);
}

void unmap_huge_buffer(void* p, uint64_t bytes) { unmap_huge(p, bytes); }

}  // namespace

Result<DeviceMemoryInfo> CpuDevice::query_memory() const {
  KEEL_ASSIGN_OR_RETURN(MemInfo meminfo, read_meminfo());
  DeviceMemoryInfo info{meminfo.total_bytes, meminfo.available_bytes};
  if (auto cgroup = read_cgroup_memory()) {
    info.total_bytes = std::min(info.total_bytes, cgroup->limit_bytes);
    uint64_t cgroup_free =
        cgroup->limit_bytes > cgroup->usage_bytes ? cgroup->limit_bytes - cgroup->usage_bytes : 0;
    info.free_bytes = std::min(info.free_bytes, cgroup_free);
  }
  return info;
}

Result<DeviceBuffer> CpuDevice::allocate(uint64_t bytes, std::string_view what) {
  if (bytes == 0) {
    return InvalidArgumentError("cannot allocate 0 bytes for {} on cpu; a size-0 buffer is a bug "
                                "in the caller's size computation", what);
  }
  KEEL_ASSIGN_OR_RETURN(Reservation reservation, budget_.reserve(bytes, what));
  // aligned_alloc needs a size that is a multiple of the alignment.
  uint64_t rounded = (bytes + kAlignmentBytes - 1) / kAlignmentBytes * kAlignmentBytes;
  if (rounded < bytes) {
    return ResourceExhaustedError("{} needs {}, more than the address space", what,
                                  format_bytes(bytes));
  }
  const bool huge = bytes >= kHugePageThresholdBytes;
  void* data = huge ? map_huge(bytes) : std::aligned_alloc(kAlignmentBytes, rounded);
  if (data == nullptr) {
    return ResourceExhaustedError(
        "the OS refused {} for {} although the keel budget allowed it ({}); "
        "lower --memory-limit to what the machine really has",
        format_bytes(bytes), what, budget_.snapshot().to_string());
  }
  // Commit every page now, at start-up, not on the hot path.
  if (huge) {
    commit_pages(data, bytes);
  } else {
    std::memset(data, 0, rounded);
  }
  return DeviceBuffer(data, bytes, std::move(reservation),
                      huge ? &unmap_huge_buffer : [](void* p, uint64_t) { std::free(p); });
}

}  // namespace keel::memory
