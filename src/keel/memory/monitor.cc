#include "keel/memory/monitor.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "keel/core/logging.h"
#include "keel/memory/bytes.h"
#include "keel/memory/kv_block_pool.h"

namespace keel::memory {

struct MemoryMonitor::Sources {
  template <typename T>
  struct Entry {
    int id;
    T value;
  };
  std::vector<Entry<BudgetSource>> budgets;
  std::vector<Entry<KvPoolSource>> kv_pools;
  std::vector<Entry<std::shared_ptr<DeviceMemoryProbe>>> probes;
  std::vector<Entry<Listener>> listeners;
};

namespace {

// "95%", "87.5%": a fraction as a percentage with at most one decimal.
std::string percent(double fraction) {
  return fmt::format("{:g}%", std::round(fraction * 1000.0) / 10.0);
}

std::string percent1(double fraction) { return fmt::format("{:.1f}%", fraction * 100.0); }

PressureLevel next_level(PressureLevel current, double usage, const MonitorOptions& o) {
  const double h = o.hysteresis_fraction;
  if (usage >= o.critical_fraction) return PressureLevel::kCritical;
  if (current == PressureLevel::kCritical && usage >= o.critical_fraction - h) {
    return PressureLevel::kCritical;
  }
  if (usage >= o.warn_fraction) return PressureLevel::kWarning;
  if (current != PressureLevel::kNormal && usage >= o.warn_fraction - h) {
    return PressureLevel::kWarning;
  }
  return PressureLevel::kNormal;
}

// Why `usage` is at `level`: the threshold it crossed, or the one it must
// fall below to leave.
std::string threshold_text(PressureLevel level, double usage, const MonitorOptions& o) {
  switch (level) {
    case PressureLevel::kCritical:
      return usage >= o.critical_fraction
                 ? fmt::format(">= critical {}", percent(o.critical_fraction))
                 : fmt::format("(critical until below {})",
                               percent(o.critical_fraction - o.hysteresis_fraction));
    case PressureLevel::kWarning:
      return usage >= o.warn_fraction
                 ? fmt::format(">= warning {}", percent(o.warn_fraction))
                 : fmt::format("(warning until below {})",
                               percent(o.warn_fraction - o.hysteresis_fraction));
    case PressureLevel::kNormal:
      break;
  }
  return fmt::format("< warning {}", percent(o.warn_fraction));
}

struct HostReading {
  HostMemory host;
  std::string description;
  std::vector<std::string> problems;
};

// `excluded_bytes`: keel's own KV pools in host memory. Like a budget's
// level, the host level leaves them out: a pool filled to its planned size
// is the design, not pressure (it would otherwise put every server that
// uses the default budget in warning at start-up).
HostReading read_host(const SystemPaths& paths, uint64_t excluded_bytes) {
  HostReading r;
  if (auto rss = read_process_rss_bytes(paths); rss.ok()) {
    r.host.rss_bytes = *rss;
  } else {
    r.problems.push_back(fmt::format("process RSS unknown: {}", rss.status().message()));
  }
  if (auto mi = read_meminfo(paths); mi.ok() && mi->total_bytes > 0) {
    r.host.meminfo = *mi;
  } else {
    r.problems.push_back(fmt::format("host memory unknown: {}",
                                     mi.ok() ? paths.proc_meminfo + " says MemTotal is 0"
                                             : std::string(mi.status().message())));
  }
  r.host.cgroup = read_cgroup_memory(paths);

  std::optional<double> mem_usage, cgroup_usage;
  if (r.host.meminfo) {
    const MemInfo& m = *r.host.meminfo;
    const uint64_t available = std::min(m.available_bytes, m.total_bytes);
    const uint64_t excluded = std::min(excluded_bytes, m.total_bytes - available);
    if (m.total_bytes > excluded) {
      mem_usage = static_cast<double>(m.total_bytes - available - excluded) /
                  static_cast<double>(m.total_bytes - excluded);
    }
  }
  if (r.host.cgroup && r.host.rss_bytes && r.host.cgroup->limit_bytes > excluded_bytes) {
    const uint64_t excluded = std::min(excluded_bytes, *r.host.rss_bytes);
    cgroup_usage = static_cast<double>(*r.host.rss_bytes - excluded) /
                   static_cast<double>(r.host.cgroup->limit_bytes - excluded);
  }
  if (cgroup_usage && (!mem_usage || *cgroup_usage > *mem_usage)) {
    r.host.usage_fraction = cgroup_usage;
    r.description = fmt::format("process RSS {} is {} of the cgroup v{} limit {}",
                                format_bytes(*r.host.rss_bytes), percent1(*cgroup_usage),
                                r.host.cgroup->version, format_bytes(r.host.cgroup->limit_bytes));
  } else if (mem_usage) {
    const MemInfo& m = *r.host.meminfo;
    r.host.usage_fraction = mem_usage;
    r.description = fmt::format(
        "host memory {} used ({} of {}, MemAvailable {}{})", percent1(*mem_usage),
        format_bytes(m.total_bytes - std::min(m.available_bytes, m.total_bytes)),
        format_bytes(m.total_bytes), format_bytes(m.available_bytes),
        excluded_bytes > 0 ? fmt::format("; keel's KV pools {} not counted",
                                         format_bytes(excluded_bytes))
                           : std::string());
  } else {
    r.description = "host memory unknown this sample";
  }
  return r;
}

BudgetUsage budget_usage(BudgetSnapshot snapshot) {
  BudgetUsage u;
  for (const auto& [label, bytes] : snapshot.by_label) {
    if (label.starts_with("KV pool")) u.kv_pool_bytes += bytes;
  }
  u.kv_pool_bytes = std::min(u.kv_pool_bytes, snapshot.reserved_bytes);
  if (snapshot.limit_bytes > 0) {
    u.usage_fraction = static_cast<double>(snapshot.reserved_bytes - u.kv_pool_bytes) /
                       static_cast<double>(snapshot.limit_bytes);
  }
  u.budget = std::move(snapshot);
  return u;
}

}  // namespace

std::string_view pressure_level_name(PressureLevel level) {
  switch (level) {
    case PressureLevel::kNormal: return "normal";
    case PressureLevel::kWarning: return "warning";
    case PressureLevel::kCritical: return "critical";
  }
  return "unknown";
}

Status MonitorOptions::validate() const {
  if (!(warn_fraction > 0 && warn_fraction < critical_fraction && critical_fraction <= 1)) {
    return InvalidArgumentError(
        "memory thresholds: warning {} and critical {} must satisfy 0 < warning < critical <= "
        "100%", percent(warn_fraction), percent(critical_fraction));
  }
  if (!(hysteresis_fraction >= 0 && hysteresis_fraction < warn_fraction)) {
    return InvalidArgumentError("memory monitor hysteresis {} must be >= 0 and below warning {}",
                                percent(hysteresis_fraction), percent(warn_fraction));
  }
  if (interval < std::chrono::milliseconds(1)) {
    return InvalidArgumentError("memory monitor interval {} ms must be at least 1 ms",
                                interval.count());
  }
  return OkStatus();
}

Result<std::unique_ptr<MemoryMonitor>> MemoryMonitor::create(MonitorOptions options) {
  KEEL_RETURN_IF_ERROR(options.validate());
  return std::unique_ptr<MemoryMonitor>(new MemoryMonitor(std::move(options)));
}

MemoryMonitor::MemoryMonitor(MonitorOptions options)
    : options_(std::move(options)), sources_(std::make_unique<Sources>()) {}

MemoryMonitor::~MemoryMonitor() { stop(); }

int MemoryMonitor::add_budget(const MemoryBudget& budget) {
  return add_budget_source([&budget] { return budget.snapshot(); });
}

int MemoryMonitor::add_budget_source(BudgetSource source) {
  std::lock_guard<std::mutex> lock(sample_mu_);
  sources_->budgets.push_back({next_id_, std::move(source)});
  return next_id_++;
}

int MemoryMonitor::add_kv_pool(const KvBlockPool& pool, std::string name) {
  return add_kv_pool_source([&pool, name = std::move(name)] {
    return KvPoolUsage{name, pool.num_total() - pool.num_free(), pool.num_total()};
  });
}

int MemoryMonitor::add_kv_pool_source(KvPoolSource source) {
  std::lock_guard<std::mutex> lock(sample_mu_);
  sources_->kv_pools.push_back({next_id_, std::move(source)});
  return next_id_++;
}

int MemoryMonitor::add_device_probe(std::shared_ptr<DeviceMemoryProbe> probe) {
  std::lock_guard<std::mutex> lock(sample_mu_);
  sources_->probes.push_back({next_id_, std::move(probe)});
  return next_id_++;
}

int MemoryMonitor::add_listener(Listener listener) {
  std::lock_guard<std::mutex> lock(sample_mu_);
  sources_->listeners.push_back({next_id_, std::move(listener)});
  return next_id_++;
}

void MemoryMonitor::remove(int id) {
  std::lock_guard<std::mutex> lock(sample_mu_);
  auto drop = [id](auto& entries) {
    std::erase_if(entries, [id](const auto& e) { return e.id == id; });
  };
  drop(sources_->budgets);
  drop(sources_->kv_pools);
  drop(sources_->probes);
  drop(sources_->listeners);
}

ResourcePressure MemoryMonitor::evaluate(std::string resource, std::optional<double> usage,
                                         std::string description) {
  ResourcePressure r;
  r.resource = std::move(resource);
  r.usage_fraction = usage;
  auto it = levels_.find(r.resource);
  const PressureLevel old = it == levels_.end() ? PressureLevel::kNormal : it->second;
  if (!usage) {  // no new information: hold the level
    r.level = old;
    r.description = std::move(description);
    return r;
  }
  r.level = next_level(old, *usage, options_);
  r.description = fmt::format("{} {}", description, threshold_text(r.level, *usage, options_));
  if (r.level != old) {
    switch (r.level) {
      case PressureLevel::kCritical:
        KEEL_LOG_ERROR("memory pressure critical: {}", r.description);
        break;
      case PressureLevel::kWarning:
        if (old == PressureLevel::kNormal) {
          KEEL_LOG_WARN("memory pressure warning: {}", r.description);
        } else {
          KEEL_LOG_WARN("memory pressure eased to warning: {}", r.description);
        }
        break;
      case PressureLevel::kNormal:
        KEEL_LOG_INFO("memory pressure back to normal: {}", r.description);
        break;
    }
  }
  return r;
}

MonitorSnapshot MemoryMonitor::sample_once(SteadyTime now) {
  std::lock_guard<std::mutex> lock(sample_mu_);
  MonitorSnapshot snap;
  snap.num_samples = ++num_samples_;
  snap.sampled_at = now;

  std::vector<ResourcePressure> budget_resources;
  uint64_t kv_pool_bytes = 0;
  for (const auto& source : sources_->budgets) {
    BudgetUsage u = budget_usage(source.value());
    std::string description = fmt::format("budget {} {} reserved outside the KV pool ({})",
                                          u.budget.name, percent1(u.usage_fraction),
                                          u.budget.to_string());
    std::optional<double> usage;
    if (u.budget.limit_bytes > 0) usage = u.usage_fraction;
    budget_resources.push_back(evaluate("budget " + u.budget.name, usage, std::move(description)));
    kv_pool_bytes += u.kv_pool_bytes;
    snap.budgets.push_back(std::move(u));
  }
  if (options_.sample_host) {
    HostReading host = read_host(options_.paths,
                                 options_.host_excludes_kv_pools ? kv_pool_bytes : 0);
    snap.host = host.host;
    snap.problems = std::move(host.problems);
    snap.resources.push_back(evaluate("host", snap.host.usage_fraction, host.description));
  }
  for (ResourcePressure& r : budget_resources) snap.resources.push_back(std::move(r));
  for (const auto& source : sources_->kv_pools) snap.kv_pools.push_back(source.value());
  for (const auto& probe : sources_->probes) {
    auto devices = probe.value->sample();
    if (!devices.ok()) {
      snap.problems.push_back(fmt::format("device memory unknown: {}", devices.status().message()));
      continue;
    }
    for (DeviceMemorySample& d : *devices) {
      std::optional<double> usage;
      std::string description;
      if (d.total_bytes > 0) {
        uint64_t free = std::min(d.free_bytes, d.total_bytes);
        usage = 1.0 - static_cast<double>(free) / static_cast<double>(d.total_bytes);
        description = fmt::format("device {} memory {} used ({} of {}, {} free)", d.device,
                                  percent1(*usage), format_bytes(d.total_bytes - free),
                                  format_bytes(d.total_bytes), format_bytes(free));
      } else {
        snap.problems.push_back(fmt::format("device {} reports 0 bytes of memory", d.device));
        description = fmt::format("device {} memory unknown this sample", d.device);
      }
      snap.resources.push_back(evaluate("device " + d.device, usage, std::move(description)));
      snap.devices.push_back(std::move(d));
    }
  }

  // Levels of resources not seen this sample are forgotten.
  levels_.clear();
  const ResourcePressure* worst = nullptr;
  for (const ResourcePressure& r : snap.resources) {
    levels_[r.resource] = r.level;
    if (worst == nullptr || r.level > worst->level) worst = &r;
  }
  if (worst != nullptr && worst->level != PressureLevel::kNormal) {
    snap.level = worst->level;
    snap.reason = worst->description;
  }

  if (snap.problems != last_problems_) {
    if (!snap.problems.empty()) {
      KEEL_LOG_WARN("memory monitor cannot read everything: {}", fmt::join(snap.problems, "; "));
    } else {
      KEEL_LOG_INFO("memory monitor reads everything again");
    }
    last_problems_ = snap.problems;
  }

  {
    std::lock_guard<std::mutex> state_lock(state_mu_);
    last_ = snap;
  }
  if (snap.level != overall_) {
    overall_ = snap.level;
    for (const auto& listener : sources_->listeners) listener.value(snap);
  }
  return snap;
}

MonitorSnapshot MemoryMonitor::snapshot() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return last_;
}

PressureLevel MemoryMonitor::level() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return last_.level;
}

Status MemoryMonitor::start() {
  std::lock_guard<std::mutex> lock(thread_mu_);
  if (thread_.joinable()) return FailedPreconditionError("the memory monitor is already running");
  stop_requested_ = false;
  thread_pid_ = static_cast<int>(::getpid());
  thread_ = std::thread([this] { run_loop(); });
  return OkStatus();
}

void MemoryMonitor::run_loop() {
  const Clock& clock = options_.clock != nullptr ? *options_.clock : Clock::real();
  for (;;) {
    sample_once(clock.now());  // the first one at once, even if stop() came already
    std::unique_lock<std::mutex> lock(thread_mu_);
    if (thread_cv_.wait_for(lock, options_.interval, [this] { return stop_requested_; })) return;
  }
}

void MemoryMonitor::stop() {
  std::thread thread;
  int pid = 0;
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    if (!thread_.joinable()) return;
    stop_requested_ = true;
    thread = std::move(thread_);
    pid = thread_pid_;
  }
  thread_cv_.notify_all();
  if (pid != static_cast<int>(::getpid())) {
    // A forked child: the thread does not exist here; forget it.
    new std::thread(std::move(thread));  // NOLINT: deliberately leaked
    return;
  }
  thread.join();
}

bool MemoryMonitor::running() const {
  std::lock_guard<std::mutex> lock(thread_mu_);
  return thread_.joinable();
}

}  // namespace keel::memory
