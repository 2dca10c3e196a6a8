// StepProgress: what an engine step is doing right now — which step, which
// phase, which layer, since when — readable from any thread (the watchdog,
// /health), plus the abort flag a watchdog raises to end a stalled step.
//
// The step thread writes (begin_step, set_phase, set_layer, end_step); any
// thread reads snapshot(). Each field is an atomic: a snapshot taken while
// the step moves on may mix neighbouring phases, which is fine for a
// diagnosis and for timeouts measured in seconds.
// Abort: request_abort() sets a flag that long waits inside a step check —
// the forward pass between layers, fault-point stalls, collectives — so that
// a stalled step returns (Cancelled) instead of holding the engine forever.
// The step thread clears it when the step has ended (clear_abort()).
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "keel/core/clock.h"

namespace keel {

enum class StepPhase : uint8_t {
  kIdle,        // between steps
  kSchedule,    // admission, preemption, block allocation
  kForward,     // the model (layer in StepProgress::Snapshot::layer)
  kSample,      // sampling, detokenizing, stop checks, delivering output
  kCollective,  // waiting for other tensor-parallel ranks
};
inline constexpr int kNumStepPhases = 5;

// "idle", "schedule", "forward", "sample", "collective".
std::string_view step_phase_name(StepPhase phase);

class StepProgress {
 public:
  struct Snapshot {
    uint64_t step = 0;  // steps begun so far; the current one if in_step
    bool in_step = false;
    StepPhase phase = StepPhase::kIdle;
    int32_t layer = -1;  // in kForward / kCollective; -1: none
    int32_t rank = -1;   // tensor-parallel rank of the last report; -1: none
    SteadyTime step_started{};
    SteadyTime phase_started{};
    // "forward layer 17 on rank 2", "sample", "schedule".
    std::string where() const;
  };

  void begin_step(SteadyTime now);
  void set_phase(StepPhase phase, SteadyTime now);
  void set_layer(int32_t layer, int32_t rank = -1) {
    layer_.store(layer, std::memory_order_relaxed);
    rank_.store(rank, std::memory_order_relaxed);
  }
  void end_step(SteadyTime now);
  Snapshot snapshot() const;

  void request_abort() { abort_.store(true, std::memory_order_release); }
  void clear_abort() { abort_.store(false, std::memory_order_release); }
  bool abort_requested() const { return abort_.load(std::memory_order_acquire); }
  // For fault::Site::abort and other waits that poll a flag.
  const std::atomic<bool>& abort_flag() const { return abort_; }

 private:
  std::atomic<uint64_t> step_{0};
  std::atomic<bool> in_step_{false};
  std::atomic<uint8_t> phase_{0};
  std::atomic<int32_t> layer_{-1};
  std::atomic<int32_t> rank_{-1};
  std::atomic<int64_t> step_started_ns_{0};
  std::atomic<int64_t> phase_started_ns_{0};
  std::atomic<bool> abort_{false};
};

}  // namespace keel
