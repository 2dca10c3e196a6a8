#include "keel/core/step_progress.h"

#include <fmt/format.h>

namespace keel {
namespace {

int64_t to_ns(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
SteadyTime from_ns(int64_t ns) {
  return SteadyTime(std::chrono::duration_cast<SteadyTime::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

std::string_view step_phase_name(StepPhase phase) {
  switch (phase) {
    case StepPhase::kIdle: return "idle";
    case StepPhase::kSchedule: return "schedule";
    case StepPhase::kForward: return "forward";
    case StepPhase::kSample: return "sample";
    case StepPhase::kCollective: return "collective";
  }
  return "unknown";
}

std::string StepProgress::Snapshot::where() const {
  std::string s(step_phase_name(phase));
  if ((phase == StepPhase::kForward || phase == StepPhase::kCollective) && layer >= 0) {
    s += fmt::format(" layer {}", layer);
  }
  if (rank >= 0) s += fmt::format(" on rank {}", rank);
  return s;
}

void StepProgress::begin_step(SteadyTime now) {
  const int64_t ns = to_ns(now);
  layer_.store(-1, std::memory_order_relaxed);
  rank_.store(-1, std::memory_order_relaxed);
  step_started_ns_.store(ns, std::memory_order_relaxed);
  phase_started_ns_.store(ns, std::memory_order_relaxed);
  phase_.store(static_cast<uint8_t>(StepPhase::kSchedule), std::memory_order_relaxed);
  step_.fetch_add(1, std::memory_order_relaxed);
  in_step_.store(true, std::memory_order_release);
}

void StepProgress::set_phase(StepPhase phase, SteadyTime now) {
  phase_started_ns_.store(to_ns(now), std::memory_order_relaxed);
  layer_.store(-1, std::memory_order_relaxed);
  phase_.store(static_cast<uint8_t>(phase), std::memory_order_release);
}

void StepProgress::end_step(SteadyTime now) {
  phase_started_ns_.store(to_ns(now), std::memory_order_relaxed);
  phase_.store(static_cast<uint8_t>(StepPhase::kIdle), std::memory_order_relaxed);
  in_step_.store(false, std::memory_order_release);
}

StepProgress::Snapshot StepProgress::snapshot() const {
  Snapshot s;
  s.in_step = in_step_.load(std::memory_order_acquire);
  s.step = step_.load(std::memory_order_relaxed);
  s.phase = static_cast<StepPhase>(phase_.load(std::memory_order_acquire));
  s.layer = layer_.load(std::memory_order_relaxed);
  s.rank = rank_.load(std::memory_order_relaxed);
  s.step_started = from_ns(step_started_ns_.load(std::memory_order_relaxed));
  s.phase_started = from_ns(phase_started_ns_.load(std::memory_order_relaxed));
  return s;
}

}  // namespace keel
