// Fault points: named places in keel where a test or a chaos run can make
// an allocation fail, a kernel return an error, a rank die, or a phase
// stall, in every build (release included), at zero cost when nothing is
// armed.
//
// Concepts
// - A *point* (enum Point) is one place in the code, with a stable name
//   ("kv_pool.alloc") and a documented outcome: the Status its hit site
//   returns, or a stall. fault_points() lists them; core/README.md has the
//   table of where each fires and what the caller sees.
// - A *hit* is one call of check(point, site) at that place. Disarmed, a
//   hit is one relaxed atomic load of a process-wide "anything armed" flag,
//   a branch predicted not taken, and an OK Status (no allocation, no lock).
// - An *arm* makes a point fire on some of its hits. Armed from a spec,
//   `--inject-fault SPEC` or the KEEL_FAULTS environment variable:
//     SPEC  := ENTRY ("," ENTRY)*
//     ENTRY := POINT (":" PARAM)*
//     PARAM := nth=N       only the Nth matching hit (1-based)
//            | every=N     every Nth matching hit (N, 2N, ...)
//            | after=N     every matching hit after the Nth
//            | p=P         each matching hit with probability P in [0, 1],
//                          decided by a hash of (seed, hit number), so a
//                          run is reproducible whatever the thread timing
//            | seed=S      the seed for p= (default 1)
//            | count=K     at most K injections in all
//            | stall=D     sleep D (e.g. 250ms, 2s, 1.5s, 500us) instead of
//                          returning an error; stall points stall by default
//                          for kDefaultStall
//            | rank=R      only hits from tensor-parallel rank R
//            | phase=NAME  only hits whose site names that phase ("forward")
//   At most one of nth/every/after/p; none = every matching hit. A hit
//   *matches* an arm when its rank and phase pass the arm's filters; only
//   matching hits are counted for nth/every/after/p.
//   Example:
//     KEEL_FAULTS="kv_pool.alloc_blocks:nth=40:rank=3,step.stall:phase=forward:stall=2s"
// - A point may carry several arms (at most kMaxArmsPerPoint); they are
//   tried in the order they were armed, and the first that fires decides.
// - An injected error is a Status with the point's code and the message
//   "injected fault <name> (hit N[, rank R][, phase P])". A stall sleeps in
//   slices of at most kStallSlice, ending early with Cancelled when the
//   site's abort flag is set or DeadlineExceeded at the site's deadline;
//   a stall that ran its full length returns OK (the point was only slow).
//
// Thread-safety: check() may be called from any number of threads at once
// and never takes a lock or allocates unless it injects (the message) or
// stalls. Counters are exact under concurrency. Arming and disarming take a
// mutex and may run concurrently with hits: a hit sees an arm either fully
// or not at all (arms are immutable and never freed, so a concurrent hit
// never reads freed memory; each arm is a few hundred bytes).
// Fork-safety: check() holds no lock, so a forked child can hit points
// freely; the child inherits the parent's arms and counters. Do not call
// arm_*/disarm_all/set_stall_clock concurrently with fork() (the child could
// inherit the arming mutex locked).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/core/status.h"

namespace keel::fault {

enum class Point : uint8_t {
  kKvPoolAlloc,        // "kv_pool.alloc"
  kKvPoolAllocBlocks,  // "kv_pool.alloc_blocks"
  kWorkspaceAlloc,     // "workspace.alloc"
  kWeightsAlloc,       // "weights.alloc"
  kKernelError,        // "kernel.error"
  kStepStall,          // "step.stall"
  kRankDead,           // "rank.dead"
  kCollectiveStall,    // "collective.stall"
  kTokenizerStall,     // "tokenizer.stall"
  kTokenizerError,     // "tokenizer.error"
  kDeviceAlloc,        // "device.alloc"
};
inline constexpr int kNumPoints = 11;
inline constexpr int kMaxArmsPerPoint = 8;
inline constexpr std::chrono::milliseconds kDefaultStall{5000};
inline constexpr std::chrono::milliseconds kStallSlice{10};

struct PointInfo {
  Point point;
  std::string_view name;   // "kv_pool.alloc"
  std::string_view doc;    // one line: where it fires and what the caller sees
  StatusCode code;         // of the injected error (kOk: stall points)
  bool stalls;             // true: the default action is a stall
};

// Every point, in enum order.
std::span<const PointInfo> fault_points();
const PointInfo& point_info(Point point);
std::string_view point_name(Point point);
std::optional<Point> point_by_name(std::string_view name);

// What a hit site knows about itself. All optional.
struct Site {
  int rank = -1;                              // tensor-parallel rank; -1: none
  std::string_view phase = {};                // "schedule", "forward", "sample", ...
  const std::atomic<bool>* abort = nullptr;   // set: a stall ends with Cancelled
  std::optional<Deadline> deadline = {};      // reached: a stall ends with DeadlineExceeded
};

namespace internal {
extern std::atomic<bool> g_any_armed;
Status check_slow(Point point, const Site& site);
}  // namespace internal

// The hit: OK, or the injected error / the outcome of an injected stall.
inline Status check(Point point, const Site& site = {}) {
  if (__builtin_expect(!internal::g_any_armed.load(std::memory_order_relaxed), 1)) {
    return OkStatus();
  }
  return internal::check_slow(point, site);
}

// True when any arm is installed (cheap; for skipping work that only
// prepares a hit's Site).
inline bool any_armed() { return internal::g_any_armed.load(std::memory_order_relaxed); }

// One parsed ENTRY of a spec.
struct ArmSpec {
  enum class When : uint8_t { kAlways, kNth, kEvery, kAfter, kProbability };
  Point point = Point::kKvPoolAlloc;
  When when = When::kAlways;
  uint64_t n = 0;             // for nth / every / after
  double probability = 0.0;   // for p
  uint64_t seed = 1;
  uint64_t max_injections = 0;  // count=; 0: unlimited
  std::optional<std::chrono::nanoseconds> stall;  // set: stall instead of error
  int rank = -1;              // -1: any rank
  std::string phase;          // empty: any phase

  // The ENTRY again, normalised ("step.stall:every=2:stall=250ms").
  std::string to_string() const;
};

// Parses SPEC (see above). An empty or all-blank spec is an empty list.
// InvalidArgument naming the bad entry and parameter, listing the valid
// points and the syntax.
Result<std::vector<ArmSpec>> parse_spec(std::string_view spec);

// Parses and arms all entries, or none (on error nothing changes). Adds to
// what is already armed. ResourceExhausted if a point would get more than
// kMaxArmsPerPoint arms.
Status arm_faults_from_spec(std::string_view spec);
Status arm(const ArmSpec& spec);
// Arms KEEL_FAULTS if set and non-empty; OK otherwise.
Status arm_faults_from_env();
// Removes every arm (counters are kept; see reset_counters).
void disarm_all();
// The armed entries, normalised and comma-separated ("" when none), for a
// start-up log line.
std::string armed_summary();

// The syntax and every point with its doc line, for --help and errors.
std::string help_text();

// Per point, since start or reset_counters(): hits while any arm was
// installed (hits while nothing is armed are not counted: that path does
// nothing), and injections (errors returned plus stalls started).
struct PointCounters {
  uint64_t hits = 0;
  uint64_t injections = 0;
};
PointCounters counters(Point point);
uint64_t total_injections();
void reset_counters();

// How stalls sleep. Default: the real clock and std::this_thread::sleep_for.
// Tests install one that advances a FakeClock, so no real time passes.
class StallClock {
 public:
  virtual ~StallClock() = default;
  virtual SteadyTime now() const = 0;
  virtual void sleep_for(std::chrono::nanoseconds d) = 0;
};
// nullptr restores the real one. Not owned: it must outlive every stall that
// may use it. Thread-safe.
void set_stall_clock(StallClock* clock);

// For tests: arms `spec` (CHECK-fails on a bad spec: a test bug) after
// disarming everything and resetting the counters; disarms everything and
// restores the real stall clock when destroyed. One at a time.
class ScopedFaults {
 public:
  explicit ScopedFaults(std::string_view spec);
  ~ScopedFaults();
  ScopedFaults(const ScopedFaults&) = delete;
  ScopedFaults& operator=(const ScopedFaults&) = delete;
};

}  // namespace keel::fault
