// MemoryMonitor: samples how much memory keel and the machine use, every
// interval, and turns it into one pressure level (normal / warning /
// critical) with a reason, so the engine can tighten admission and the
// server can report /ready as degraded before anything runs out.
//
// What a sample reads
// - Host: this process's RSS (/proc/self/status VmRSS), the cgroup limit and
//   usage (v2 memory.max/memory.current, v1 equivalents) when there is a
//   limit, MemTotal/MemAvailable (/proc/meminfo). Paths come from
//   MonitorOptions::paths, so tests use fake files.
// - Every registered budget's snapshot (limit, reserved, per label).
// - Every registered KV pool's blocks used/total.
// - Every registered DeviceMemoryProbe (driver free/total per device; CUDA
//   later; on CPU there is none: host memory is sampled above).
//
// What has a level (each resource separately; the monitor's level is the
// worst of them, its reason the worst one's description):
// - host: usage = max((RSS - P) / (cgroup limit - P),
//                     (MemTotal - MemAvailable - P) / (MemTotal - P)),
//   where P is the bytes the registered budgets reserve for KV pools
//   (host_excludes_kv_pools; 0 otherwise) — for the same reason as below;
// - each budget: usage = (reserved - reserved under "KV pool...") / limit.
//   The KV pool is left out on purpose: the capacity planner reserves it
//   whole at start-up (by default 90 % of what the weights leave), so
//   counting it would put every healthy server at 95 %+; and a pool full
//   of blocks is normal operation that preemption and memory-true
//   admission already handle. What the budget level catches is growth of
//   everything else (weights, workspace, later reservations).
// - each probed device: usage = 1 - free / total.
// KV pools are reported (used/total) but have no level.
//
// Thresholds and hysteresis: a resource enters warning at usage >= warn
// and critical at >= critical; it leaves a level only when usage falls
// below that level's threshold minus `hysteresis`. Each change of a
// resource's level logs ONE line with the numbers (ERROR entering
// critical, WARN entering or easing to warning, INFO back to normal), never
// one per sample. Listeners are called when the monitor's overall level
// changes.
//
// A value that cannot be read (missing or malformed file, a source that
// fails) makes no crash and no level change: the resource keeps its level,
// the snapshot's `problems` says what failed, and one WARN line is logged
// when the set of problems changes.
//
// Threads: sample_once() is the whole logic and may be called directly
// (tests, or a caller's own loop). start() runs it on a background thread
// every interval; stop() returns within one sample (a few small file
// reads), never waiting for the interval to pass. The thread does not
// exist in a forked child: a child must not use a parent's started monitor
// (stop() there only forgets the thread).
// Thread-safety: every method may be called from any thread. Sources and
// listeners are called on the sampling thread with the sampling lock held:
// they must not call add_*/remove/sample_once/stop (snapshot() is fine).
// remove(id) waits for an in-flight sample, so a removed source is never
// called afterwards.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/memory/budget.h"
#include "keel/memory/system_memory.h"

namespace keel::memory {

class KvBlockPool;

enum class PressureLevel : uint8_t { kNormal = 0, kWarning = 1, kCritical = 2 };
std::string_view pressure_level_name(PressureLevel level);  // "normal", "warning", "critical"

struct MonitorOptions {
  std::chrono::milliseconds interval{1000};  // --monitor-interval
  double warn_fraction = 0.85;               // --memory-warn
  double critical_fraction = 0.95;           // --memory-critical
  double hysteresis_fraction = 0.05;         // a level is left below threshold - this
  bool sample_host = true;                   // false: budgets, pools and devices only
  // The registered budgets are host memory (the CPU backend): the bytes
  // they reserve for KV pools are left out of the host level as they are
  // out of the budgets' own (a full pool is the design). false for device
  // budgets (CUDA), whose pools are not in host memory.
  bool host_excludes_kv_pools = true;
  SystemPaths paths;                         // where the host files are
  const Clock* clock = nullptr;              // for start()'s timestamps; nullptr: real

  // 0 < warn < critical <= 1, 0 <= hysteresis < warn, interval >= 1 ms.
  Status validate() const;
};

struct HostMemory {
  std::optional<uint64_t> rss_bytes;
  std::optional<MemInfo> meminfo;
  std::optional<CgroupMemory> cgroup;      // only when a cgroup limit applies
  std::optional<double> usage_fraction;    // see "What has a level"
};

struct BudgetUsage {
  BudgetSnapshot budget;
  uint64_t kv_pool_bytes = 0;    // reserved under labels starting "KV pool"
  double usage_fraction = 0.0;   // (reserved - kv_pool_bytes) / limit; 0 for limit 0
};

struct KvPoolUsage {
  std::string name;
  int64_t used_blocks = 0;
  int64_t total_blocks = 0;
};

// Memory as a device's driver reports it.
struct DeviceMemorySample {
  std::string device;  // "cuda:0"
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
};

// Free/total device memory per device, from the driver (cudaMemGetInfo on
// CUDA, later). Called once per sample; must be quick and must not block.
class DeviceMemoryProbe {
 public:
  virtual ~DeviceMemoryProbe() = default;
  virtual Result<std::vector<DeviceMemorySample>> sample() = 0;
};

// The CPU "device" has no memory of its own beyond the host's, which the
// monitor samples anyway: this probe reports no devices.
class CpuDeviceMemoryProbe final : public DeviceMemoryProbe {
 public:
  Result<std::vector<DeviceMemorySample>> sample() override {
    return std::vector<DeviceMemorySample>{};
  }
};

// One resource with a level.
struct ResourcePressure {
  std::string resource;         // "host", "budget cpu", "device cuda:0"
  std::optional<double> usage_fraction;  // nullopt: could not be read this sample
  PressureLevel level = PressureLevel::kNormal;
  // "host memory 96.2% used (23.09 GiB of 24.00 GiB, MemAvailable 0.91 GiB) >= critical 95%"
  std::string description;
};

struct MonitorSnapshot {
  uint64_t num_samples = 0;
  std::optional<SteadyTime> sampled_at;
  HostMemory host;
  std::vector<BudgetUsage> budgets;
  std::vector<KvPoolUsage> kv_pools;
  std::vector<DeviceMemorySample> devices;
  std::vector<ResourcePressure> resources;  // host, then budgets, then devices
  PressureLevel level = PressureLevel::kNormal;
  std::string reason;                   // the worst resource's description; "" when normal
  std::vector<std::string> problems;    // what could not be read in this sample
};

class MemoryMonitor {
 public:
  using BudgetSource = std::function<BudgetSnapshot()>;
  using KvPoolSource = std::function<KvPoolUsage()>;
  // Called with the new snapshot when the overall level changes.
  using Listener = std::function<void(const MonitorSnapshot&)>;

  // InvalidArgument (from MonitorOptions::validate) for bad options.
  static Result<std::unique_ptr<MemoryMonitor>> create(MonitorOptions options = {});
  ~MemoryMonitor();  // stop()s
  MemoryMonitor(const MemoryMonitor&) = delete;
  MemoryMonitor& operator=(const MemoryMonitor&) = delete;

  // Registration; each returns an id for remove(). The referenced budget or
  // pool must outlive the monitor or be removed first.
  int add_budget(const MemoryBudget& budget);
  int add_budget_source(BudgetSource source);
  int add_kv_pool(const KvBlockPool& pool, std::string name = "KV pool");
  int add_kv_pool_source(KvPoolSource source);
  int add_device_probe(std::shared_ptr<DeviceMemoryProbe> probe);
  int add_listener(Listener listener);
  // Removes a source, probe or listener; unknown ids are ignored. Waits for
  // an in-flight sample.
  void remove(int id);

  // Reads everything once, updates levels (logging and calling listeners on
  // changes) and returns the new snapshot. `now` stamps it.
  MonitorSnapshot sample_once(SteadyTime now);

  // The latest sample (a default one before the first).
  MonitorSnapshot snapshot() const;
  PressureLevel level() const;

  // Samples at once, then every options().interval on a background thread.
  // FailedPrecondition if already started.
  Status start();
  // Stops the thread; returns within one sample. Idempotent.
  void stop();
  bool running() const;

  const MonitorOptions& options() const { return options_; }

 private:
  explicit MemoryMonitor(MonitorOptions options);
  struct Sources;
  void run_loop();
  // Requires sample_mu_: the resource's new level, logging a change.
  ResourcePressure evaluate(std::string resource, std::optional<double> usage,
                            std::string description);

  const MonitorOptions options_;

  mutable std::mutex sample_mu_;  // serialises samples; guards sources_ and levels_
  std::unique_ptr<Sources> sources_;
  std::map<std::string, PressureLevel> levels_;  // by resource name
  std::vector<std::string> last_problems_;
  PressureLevel overall_ = PressureLevel::kNormal;
  uint64_t num_samples_ = 0;
  int next_id_ = 1;

  mutable std::mutex state_mu_;  // guards last_
  MonitorSnapshot last_;

  mutable std::mutex thread_mu_;  // guards the fields below
  std::condition_variable thread_cv_;
  std::thread thread_;
  bool stop_requested_ = false;
  int thread_pid_ = 0;  // the process that started thread_
};

}  // namespace keel::memory
