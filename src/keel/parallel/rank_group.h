// RankGroup: N tensor-parallel rank threads that run one step function
// together per engine step, joined by a CommGroup. What the engine's
// executor calls for --tp N.
//
// Contract
// - create() starts world_size threads, rank r on thread r, idle until
//   run_step() posts a step. Each rank runs fn(rank, comm(rank)) once per
//   step; fn uses the collectives (with deadlines it captures).
// - run_step(fn, deadline) wakes every rank and waits for all of them,
//   bounded by `deadline`:
//     all OK                      -> OK;
//     a rank returned an error    -> the group is aborted with it (so peers
//                                    blocked in collectives return at once)
//                                    and run_step returns the first failure,
//                                    naming its rank;
//     the group aborted and some  -> the first failure, once every rank has
//     rank is still busy             returned or abort_grace has passed
//                                    ("...; rank 2 still in the step");
//     the deadline passed         -> the group is aborted and run_step returns
//                                    DeadlineExceeded naming the ranks that
//                                    did not finish (or the first failure if
//                                    one came before).
//   Ranks that finished are not held: they go back to waiting for the next
//   step. A rank still running an aborted step is a *straggler*: the next
//   run_step / reset waits for it (within its own deadline) and fails naming
//   it if it is still busy; its collectives are refused, so it cannot touch
//   the next step's data.
// - An exception escaping fn is caught on the rank's thread and becomes
//   Internal "rank R step threw: ..." (nothing throws across threads).
// - After a failed step the group stays aborted: run_step answers
//   FailedPrecondition until reset(deadline) (the engine's worker restart),
//   which waits for stragglers, resets the CommGroup (new generation) and
//   lets each rank rejoin at its next step.
// - Shutdown (destructor) is bounded: it aborts a running step, waits up to
//   shutdown_timeout for the threads to exit, and detaches any that did not
//   (they keep the shared state alive; fn must own what it touches).
// Thread-safety: run_step and reset are called by one thread at a time (the
// engine's); comm_group()'s abort/status methods from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/core/status.h"
#include "keel/parallel/communicator.h"

namespace keel::parallel {

struct RankGroupOptions {
  int world_size = 1;
  CommOptions comm;
  // After the group aborts mid-step, how long run_step still waits for the
  // ranks to leave the step before it returns the failure anyway.
  std::chrono::milliseconds abort_grace{1000};
  // The destructor waits this long for the threads to exit, then detaches.
  std::chrono::milliseconds shutdown_timeout{2000};
};

class RankGroup {
 public:
  using StepFn = std::function<Status(int rank, Communicator& comm)>;

  static Result<std::unique_ptr<RankGroup>> create(RankGroupOptions options);
  ~RankGroup();
  RankGroup(const RankGroup&) = delete;
  RankGroup& operator=(const RankGroup&) = delete;

  int world_size() const;
  CommGroup& comm_group();

  Status run_step(StepFn fn, Deadline deadline);
  Status reset(Deadline deadline);
  // Steps posted so far.
  uint64_t steps() const;

 private:
  struct State;
  explicit RankGroup(std::shared_ptr<State> state, RankGroupOptions options);
  static void rank_main(std::shared_ptr<State> state, int rank);

  std::shared_ptr<State> state_;
  RankGroupOptions options_;
  std::vector<std::thread> threads_;
};

}  // namespace keel::parallel
