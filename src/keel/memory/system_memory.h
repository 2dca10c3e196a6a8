// What the machine really has: /proc/meminfo and the cgroup memory limit,
// and the default CPU budget derived from them.
//
// The default budget rule (default_cpu_budget):
//   available = MemAvailable                                   (/proc/meminfo)
//   if this process's cgroup has a memory limit (v2 memory.max, or v1
//   memory.limit_in_bytes; the smallest along the path to the root):
//     available = min(available, limit - usage)   (usage: memory.current,
//                                                  v1 memory.usage_in_bytes)
//   headroom  = max(256 MiB, available / 10)       left for the OS, the
//                                                  process's own heap, stacks,
//                                                  the tokenizer, HTTP buffers
//   budget    = available - headroom
// If available <= headroom there is no budget: ResourceExhausted telling
// the user to free memory or set --memory-limit.
// Paths are injectable so tests can use fake /proc and /sys trees.
// Thread-safety: pure functions over the file system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "keel/core/result.h"

namespace keel::memory {

struct SystemPaths {
  std::string proc_meminfo = "/proc/meminfo";
  std::string proc_self_cgroup = "/proc/self/cgroup";
  std::string cgroup_root = "/sys/fs/cgroup";  // v1 controllers are under <root>/memory
  std::string proc_self_status = "/proc/self/status";  // VmRSS, for the memory monitor
};

struct MemInfo {
  uint64_t total_bytes = 0;      // MemTotal
  uint64_t available_bytes = 0;  // MemAvailable
};

struct CgroupMemory {
  int version = 0;               // 1 or 2
  uint64_t limit_bytes = 0;      // the smallest limit on the path to the root
  uint64_t usage_bytes = 0;      // usage of the cgroup that holds this process
};

// MemTotal and MemAvailable. DataLoss if the file lacks them or is garbled;
// NotFound if it cannot be read.
Result<MemInfo> read_meminfo(const SystemPaths& paths = {});

// The cgroup memory limit that applies to this process, or nullopt when
// there is none (no cgroup file, "max", or the v1 "unlimited" sentinel).
std::optional<CgroupMemory> read_cgroup_memory(const SystemPaths& paths = {});

// This process's resident set size (the VmRSS line of /proc/self/status).
// NotFound if the file cannot be read; DataLoss if it lacks VmRSS or the
// line is garbled.
Result<uint64_t> read_process_rss_bytes(const SystemPaths& paths = {});

struct CpuBudgetReport {
  MemInfo meminfo;
  std::optional<CgroupMemory> cgroup;
  uint64_t available_bytes = 0;  // after the cgroup cap
  uint64_t headroom_bytes = 0;
  uint64_t budget_bytes = 0;
  // "budget 20.10 GiB = available 22.34 GiB (MemAvailable) - headroom 2.23 GiB"
  std::string explanation;
};

inline constexpr uint64_t kMinHeadroomBytes = 256ull << 20;
inline constexpr uint64_t kHeadroomDivisor = 10;  // headroom is 1/10 of available

// Applies the rule above to already-read numbers (pure; tested directly).
Result<CpuBudgetReport> compute_cpu_budget(const MemInfo& meminfo,
                                           const std::optional<CgroupMemory>& cgroup);

// Reads the system and applies the rule.
Result<CpuBudgetReport> default_cpu_budget(const SystemPaths& paths = {});
Result<uint64_t> default_cpu_budget_bytes(const SystemPaths& paths = {});

}  // namespace keel::memory
