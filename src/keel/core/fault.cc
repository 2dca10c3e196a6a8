#include "keel/core/fault.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "keel/core/check.h"
#include "keel/core/logging.h"

namespace keel::fault {
namespace internal {
std::atomic<bool> g_any_armed{false};
}  // namespace internal

namespace {

// Order must follow enum Point.
constexpr PointInfo kPoints[kNumPoints] = {
    {Point::kKvPoolAlloc, "kv_pool.alloc",
     "MemoryBudget::reserve for a label starting \"KV pool\" (KV pool creation at start-up) "
     "returns ResourceExhausted",
     StatusCode::kResourceExhausted, false},
    {Point::kKvPoolAllocBlocks, "kv_pool.alloc_blocks",
     "KvBlockPool::allocate/allocate_append of n > 0 blocks (a sequence growing "
     "mid-generation) returns ResourceExhausted; the pool is unchanged",
     StatusCode::kResourceExhausted, false},
    {Point::kWorkspaceAlloc, "workspace.alloc",
     "MemoryBudget::reserve for a label starting \"workspace\" returns ResourceExhausted",
     StatusCode::kResourceExhausted, false},
    {Point::kWeightsAlloc, "weights.alloc",
     "MemoryBudget::reserve for a label starting \"weights\" (weight loading) returns "
     "ResourceExhausted",
     StatusCode::kResourceExhausted, false},
    {Point::kKernelError, "kernel.error", "a kernel launch returns Internal",
     StatusCode::kInternal, false},
    {Point::kStepStall, "step.stall",
     "an engine step stalls in the phase its site names (phase=schedule|forward|sample|...)",
     StatusCode::kOk, true},
    {Point::kRankDead, "rank.dead",
     "a tensor-parallel rank's loop gets Unavailable and exits, as if the rank died",
     StatusCode::kUnavailable, false},
    {Point::kCollectiveStall, "collective.stall",
     "a rank stalls inside a collective (all-reduce, all-gather) before joining it",
     StatusCode::kOk, true},
    {Point::kTokenizerStall, "tokenizer.stall", "tokenization of one request stalls",
     StatusCode::kOk, true},
    {Point::kTokenizerError, "tokenizer.error",
     "tokenization of one request returns Internal", StatusCode::kInternal, false},
    {Point::kDeviceAlloc, "device.alloc",
     "a device allocation in a forward step, before each layer on each rank, returns "
     "ResourceExhausted (keel allocates nothing after start-up: this stands for memory a driver, "
     "a library or another process took mid-generation)",
     StatusCode::kResourceExhausted, false},
};

static_assert(std::atomic<bool>::is_always_lock_free);
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<void*>::is_always_lock_free);

constexpr bool points_in_order() {
  for (int i = 0; i < kNumPoints; ++i) {
    if (static_cast<int>(kPoints[i].point) != i) return false;
  }
  return true;
}
static_assert(points_in_order(), "kPoints must follow enum Point");

// An installed arm: immutable spec plus its own counters. Never freed once
// installed (see "Thread-safety" in fault.h).
struct Arm {
  explicit Arm(ArmSpec s) : spec(std::move(s)) {}
  const ArmSpec spec;
  std::atomic<uint64_t> matching_hits{0};
  std::atomic<uint64_t> injections{0};
};

struct Slot {
  std::array<std::atomic<Arm*>, kMaxArmsPerPoint> arms{};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> injections{0};
};

std::array<Slot, kNumPoints> g_slots;

// Guards arming; never taken by check().
std::mutex& arm_mutex() {
  static auto* mu = new std::mutex;  // leaked: usable during static destruction
  return *mu;
}
// Every arm ever installed, so none is freed while a hit may read it.
std::vector<std::unique_ptr<Arm>>& all_arms() {
  static auto* arms = new std::vector<std::unique_ptr<Arm>>;
  return *arms;
}

class RealStallClock final : public StallClock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  void sleep_for(std::chrono::nanoseconds d) override { std::this_thread::sleep_for(d); }
};
RealStallClock g_real_stall_clock;
std::atomic<StallClock*> g_stall_clock{&g_real_stall_clock};

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform number in [0, 1) determined by (seed, hit number) alone.
double uniform(uint64_t seed, uint64_t n) {
  uint64_t x = splitmix64(seed ^ splitmix64(n));
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

bool schedule_fires(const ArmSpec& s, uint64_t n) {
  switch (s.when) {
    case ArmSpec::When::kAlways: return true;
    case ArmSpec::When::kNth: return n == s.n;
    case ArmSpec::When::kEvery: return n % s.n == 0;
    case ArmSpec::When::kAfter: return n > s.n;
    case ArmSpec::When::kProbability: return uniform(s.seed, n) < s.probability;
  }
  return false;
}

// Takes one of the arm's injections if its count= limit allows.
bool take_injection(Arm& arm) {
  if (arm.spec.max_injections == 0) {
    arm.injections.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  uint64_t cur = arm.injections.load(std::memory_order_relaxed);
  do {
    if (cur >= arm.spec.max_injections) return false;
  } while (!arm.injections.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
  return true;
}

std::string describe_hit(const PointInfo& info, uint64_t n, const Site& site) {
  std::string out = fmt::format("injected fault {} (hit {}", info.name, n);
  if (site.rank >= 0) out += fmt::format(", rank {}", site.rank);
  if (!site.phase.empty()) out += fmt::format(", phase {}", site.phase);
  out += ")";
  return out;
}

int64_t to_ms(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

Status stall(const PointInfo& info, uint64_t n, const Site& site,
             std::chrono::nanoseconds length) {
  StallClock& clock = *g_stall_clock.load(std::memory_order_acquire);
  const SteadyTime start = clock.now();
  const SteadyTime end = start + length;
  KEEL_LOG_DEBUG("{}: stalling {} ms", describe_hit(info, n, site), to_ms(length));
  for (;;) {
    SteadyTime now = clock.now();
    if (site.abort != nullptr && site.abort->load(std::memory_order_acquire)) {
      return CancelledError("{} stalled {} ms of {} ms, then was aborted",
                            describe_hit(info, n, site), to_ms(now - start), to_ms(length));
    }
    if (site.deadline.has_value() && now >= site.deadline->at()) {
      return DeadlineExceededError("{} stalled {} ms of {} ms, then reached its deadline",
                                   describe_hit(info, n, site), to_ms(now - start),
                                   to_ms(length));
    }
    if (now >= end) return OkStatus();
    std::chrono::nanoseconds slice = std::min<std::chrono::nanoseconds>(kStallSlice, end - now);
    if (site.deadline.has_value()) {
      slice = std::min<std::chrono::nanoseconds>(slice, site.deadline->at() - now);
    }
    clock.sleep_for(slice);
  }
}

}  // namespace

std::span<const PointInfo> fault_points() { return kPoints; }

const PointInfo& point_info(Point point) {
  auto i = static_cast<size_t>(point);
  KEEL_CHECK(i < static_cast<size_t>(kNumPoints)) << "bad fault point " << i;
  return kPoints[i];
}

std::string_view point_name(Point point) { return point_info(point).name; }

std::optional<Point> point_by_name(std::string_view name) {
  for (const PointInfo& p : kPoints) {
    if (p.name == name) return p.point;
  }
  return std::nullopt;
}

Status internal::check_slow(Point point, const Site& site) {
  const PointInfo& info = point_info(point);
  Slot& slot = g_slots[static_cast<size_t>(point)];
  slot.hits.fetch_add(1, std::memory_order_relaxed);
  for (std::atomic<Arm*>& entry : slot.arms) {
    Arm* arm = entry.load(std::memory_order_acquire);
    if (arm == nullptr) continue;
    const ArmSpec& s = arm->spec;
    if (s.rank >= 0 && site.rank != s.rank) continue;
    if (!s.phase.empty() && site.phase != s.phase) continue;
    uint64_t n = arm->matching_hits.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!schedule_fires(s, n) || !take_injection(*arm)) continue;
    slot.injections.fetch_add(1, std::memory_order_relaxed);
    if (s.stall.has_value() || info.stalls) {
      return stall(info, n, site, s.stall.value_or(kDefaultStall));
    }
    KEEL_LOG_DEBUG("{}", describe_hit(info, n, site));
    return Status(info.code, describe_hit(info, n, site));
  }
  return OkStatus();
}

namespace {

// Installs `spec` in a free arm slot of its point. Requires arm_mutex().
bool install_locked(const ArmSpec& spec) {
  for (std::atomic<Arm*>& entry : g_slots[static_cast<size_t>(spec.point)].arms) {
    if (entry.load(std::memory_order_relaxed) != nullptr) continue;
    all_arms().push_back(std::make_unique<Arm>(spec));
    entry.store(all_arms().back().get(), std::memory_order_release);
    internal::g_any_armed.store(true, std::memory_order_release);
    return true;
  }
  return false;
}

int free_arm_slots_locked(Point point) {
  int n = 0;
  for (auto& entry : g_slots[static_cast<size_t>(point)].arms) {
    if (entry.load(std::memory_order_relaxed) == nullptr) ++n;
  }
  return n;
}

}  // namespace

Status arm(const ArmSpec& spec) {
  if (static_cast<int>(spec.point) >= kNumPoints) {
    return InvalidArgumentError("fault point {} does not exist", static_cast<int>(spec.point));
  }
  bool needs_n = spec.when == ArmSpec::When::kNth || spec.when == ArmSpec::When::kEvery;
  if ((needs_n && spec.n == 0) || !(spec.probability >= 0 && spec.probability <= 1) ||
      (spec.stall.has_value() && spec.stall->count() < 0)) {
    return InvalidArgumentError("fault arm '{}' is invalid: nth/every need N >= 1, p is in "
                                "[0, 1], stall is >= 0", spec.to_string());
  }
  std::lock_guard<std::mutex> lock(arm_mutex());
  if (install_locked(spec)) return OkStatus();
  return ResourceExhaustedError("fault point {} already has {} arms; disarm first",
                                point_name(spec.point), kMaxArmsPerPoint);
}

Status arm_faults_from_spec(std::string_view spec) {
  KEEL_ASSIGN_OR_RETURN(std::vector<ArmSpec> specs, parse_spec(spec));
  std::lock_guard<std::mutex> lock(arm_mutex());
  // All or nothing: check every point has room before installing any arm.
  std::array<int, kNumPoints> free_slots{};
  for (int p = 0; p < kNumPoints; ++p) {
    free_slots[static_cast<size_t>(p)] = free_arm_slots_locked(static_cast<Point>(p));
  }
  for (const ArmSpec& s : specs) {
    if (--free_slots[static_cast<size_t>(s.point)] < 0) {
      return ResourceExhaustedError("fault spec '{}': point {} would have more than {} arms",
                                    spec, point_name(s.point), kMaxArmsPerPoint);
    }
  }
  for (const ArmSpec& s : specs) KEEL_CHECK(install_locked(s));
  return OkStatus();
}

Status arm_faults_from_env() {
  const char* env = std::getenv("KEEL_FAULTS");
  if (env == nullptr || *env == '\0') return OkStatus();
  Status s = arm_faults_from_spec(env);
  if (!s.ok()) return s.with_context("KEEL_FAULTS");
  return OkStatus();
}

void disarm_all() {
  std::lock_guard<std::mutex> lock(arm_mutex());
  internal::g_any_armed.store(false, std::memory_order_release);
  for (Slot& slot : g_slots) {
    for (std::atomic<Arm*>& entry : slot.arms) entry.store(nullptr, std::memory_order_release);
  }
}

std::string armed_summary() {
  std::lock_guard<std::mutex> lock(arm_mutex());
  std::string out;
  for (Slot& slot : g_slots) {
    for (std::atomic<Arm*>& entry : slot.arms) {
      Arm* arm = entry.load(std::memory_order_acquire);
      if (arm == nullptr) continue;
      if (!out.empty()) out += ",";
      out += arm->spec.to_string();
    }
  }
  return out;
}

PointCounters counters(Point point) {
  const Slot& slot = g_slots[static_cast<size_t>(point_info(point).point)];
  return {slot.hits.load(std::memory_order_relaxed),
          slot.injections.load(std::memory_order_relaxed)};
}

uint64_t total_injections() {
  uint64_t total = 0;
  for (const Slot& slot : g_slots) total += slot.injections.load(std::memory_order_relaxed);
  return total;
}

void reset_counters() {
  for (Slot& slot : g_slots) {
    slot.hits.store(0, std::memory_order_relaxed);
    slot.injections.store(0, std::memory_order_relaxed);
  }
}

void set_stall_clock(StallClock* clock) {
  g_stall_clock.store(clock != nullptr ? clock : &g_real_stall_clock, std::memory_order_release);
}

ScopedFaults::ScopedFaults(std::string_view spec) {
  disarm_all();
  reset_counters();
  Status s = arm_faults_from_spec(spec);
  KEEL_CHECK(s.ok()) << s.to_string();
}

ScopedFaults::~ScopedFaults() {
  disarm_all();
  set_stall_clock(nullptr);
}

}  // namespace keel::fault
