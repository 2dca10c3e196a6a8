// Communicator: collectives between the tensor-parallel ranks of one process
// (ranks are threads), with NCCL's failure model: every wait is bounded, and
// one rank's failure aborts the whole group promptly with a Status that names
// the rank and what happened.
//
// Concepts
// - A CommGroup of world_size ranks is created once (create_group) and owns
//   one Communicator per rank plus the shared staging memory. Rank r's
//   collectives go through comm(r), from one thread at a time (the rank's).
// - Collectives are called by every rank in the same order with matching
//   arguments (SPMD). Each is numbered per rank ("all_reduce #12"); the
//   numbers agree across ranks. A mismatch (another op or element count at
//   the same number) is detected and aborts the group with Internal.
// - Data path (shared memory, no allocation per call): every rank r owns an
//   input slot of max_elements floats and a result slice of
//   ceil(max_elements / world_size) floats, reserved from its own device's
//   budget at creation. all_reduce_sum = reduce-scatter + all-gather: each
//   rank copies its data into its slot; barrier; rank r sums its slice of
//   every slot *in rank order* ((x0 + x1) + x2) + ... into its result slice;
//   barrier; every rank copies all result slices back into its data. So each
//   element is summed by exactly one rank in one fixed order: the result has
//   the same bits on every rank and in every run, whatever the thread timing
//   or how the slices fall (it equals the serial rank-order sum). Per rank:
//   ~3n floats moved, no O(world^2) copies.
// - Failure (see README.md for the table). A group-wide abort flag is set by
//   the first failure and never cleared until reset():
//     Communicator::abort(why)   this rank failed (allocation failure, error);
//     RankGuard's destructor     the rank left its step without finishing it
//                                (thread died / unwound): abort "as dead";
//     a deadline passing         a rank waiting in a collective whose peers
//                                have not all arrived by its deadline aborts
//                                with DeadlineExceeded naming the missing ranks;
//     fault rank.dead            hit at the start of each collective: the
//                                rank's collective fails and aborts the group;
//     CommGroup::abort(why)      from outside (the engine's watchdog, shutdown).
//   Every rank blocked in a collective, or entering one later, returns the
//   first failure (group_status()) plus " (collective all_reduce #12 on rank
//   1 aborted)", within the wake-up latency of a condition variable (or one
//   10 ms stall slice for a rank stalled by collective.stall).
//   Codes: DeadlineExceeded for a rank that did not arrive in time;
//   Unavailable "rank 3 failed: RESOURCE_EXHAUSTED: ..." for a rank's failure;
//   Internal for a collective mismatch; the external abort's own code.
// - A collective either completes on every rank or fails on every rank that
//   had not yet passed its last barrier: a rank that saw all peers arrive
//   returns OK even if an abort follows.
// - Recovery: CommGroup::reset(deadline) aborts (if not already), waits until
//   no rank is inside a collective, clears the staging state and starts a new
//   *generation*. A Communicator is bound to the generation it last joined:
//   after a reset each rank calls rejoin() from its own thread at the start of
//   its next step (RankGroup does it). A straggler still running the aborted
//   step is refused (FailedPrecondition) at its next collective, before it
//   touches any shared state, so it can never corrupt the next generation.
//   This mirrors NCCL: ncclCommAbort + a fresh ncclCommInitRank per rank.
// - Async error polling: group_status() (like ncclCommGetAsyncError) and
//   failure() return the first failure from any thread, at any time.
// Thread-safety: a Communicator's collectives and rejoin() are called by one
// thread at a time (its rank's). abort(), group_status(), failure() and
// everything on CommGroup may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/core/status.h"
#include "keel/memory/device.h"

namespace keel::parallel {

class CommGroup;
struct CommState;

inline constexpr std::chrono::microseconds kDefaultSpin{20};

struct CommOptions {
  // The largest element count of one call: all_reduce_sum / broadcast of
  // `data`, all_gather of `mine`. Default: hidden 4096 x 2048 tokens.
  size_t max_elements = size_t{4096} * 2048;
  // One device per rank (its budget pays for that rank's staging memory), or
  // empty: the group makes private CPU devices whose budgets hold exactly the
  // staging memory. The devices must outlive the group.
  std::vector<memory::Device*> devices;
  // How long a rank waiting in a collective spins (yielding) before it sleeps
  // on a condition variable. 0: sleep at once. Unset: kDefaultSpin when the
  // process has more CPUs than ranks, else 0 (spinning ranks that share CPUs
  // only delay the peers they wait for: measured 20x slower small
  // all-reduces with 4 ranks on 2 CPUs).
  std::optional<std::chrono::microseconds> spin;
};

// The first failure of a group.
struct GroupFailure {
  int rank = -1;   // the failing rank; -1: aborted from outside the ranks
  Status status;   // what every rank's collective reports (without its suffix)
};

class Communicator {
 public:
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int world_size() const;

  // In place: data = sum over ranks of every rank's data, summed in rank
  // order (bit-identical on every rank and every run). data.size() <=
  // max_elements and equal on every rank.
  Status all_reduce_sum(std::span<float> data, Deadline deadline);
  // out = concat(mine of rank 0, mine of rank 1, ...). mine.size() <=
  // max_elements and equal on every rank; out.size() == world_size * mine.size().
  Status all_gather(std::span<const float> mine, std::span<float> out, Deadline deadline);
  // data = root's data on every rank. data.size() <= max_elements, equal on
  // every rank; 0 <= root < world_size.
  Status broadcast(std::span<float> data, int root, Deadline deadline);
  // Returns when every rank has called barrier().
  Status barrier(Deadline deadline);

  // This rank failed: aborts the group with Unavailable "rank R failed:
  // <why>" (only the first failure of a generation is kept). Any thread.
  void abort(const Status& why);
  // The group's first failure, or OK. Any thread.
  Status group_status() const;
  std::optional<GroupFailure> failure() const;

  // Binds this rank to the group's current generation and restarts its
  // collective numbering. Call from the rank's thread at the start of a step
  // after CommGroup::reset() (RankGroup does). Does not clear an abort.
  void rejoin();
  uint64_t generation() const { return generation_; }
  // Collectives this rank has entered in its generation (the last one's #).
  uint64_t num_collectives() const { return seq_; }

 private:
  friend class CommGroup;
  struct Op;
  Communicator(std::shared_ptr<CommState> state, int rank);

  // Common entry: rejects stale generations and aborted groups, hits the
  // fault points. On OK the rank is registered inside the collective.
  Status enter(Op& op, Deadline deadline);
  void leave();
  // Arrives at this rank's next barrier and waits for every rank there.
  Status sync(const Op& op, const char* what_missing, Deadline deadline);
  Status fail_op(const Op& op, Status why);
  Status check_args(Op& op);
  // After the first barrier: every rank called the same collective.
  Status check_same(const Op& op);

  std::shared_ptr<CommState> state_;
  const int rank_;
  // Owned by the rank's thread.
  uint64_t generation_ = 0;
  uint64_t seq_ = 0;       // collectives entered in this generation
  uint64_t barriers_ = 0;  // barriers arrived at in this generation
};

class CommGroup {
 public:
  ~CommGroup();
  CommGroup(const CommGroup&) = delete;
  CommGroup& operator=(const CommGroup&) = delete;

  int world_size() const;
  size_t max_elements() const;
  Communicator& comm(int rank);

  // Aborts the group from outside its ranks (a watchdog, shutdown). The
  // status is reported as is.
  void abort(const Status& why);
  bool aborted() const;
  Status group_status() const;
  std::optional<GroupFailure> failure() const;
  uint64_t generation() const;
  // "2" / "2,3": ranks that have arrived at fewer barriers than the rank
  // furthest ahead — in a stalled step, the ones the others wait for; ""
  // when all are level. Any thread; a snapshot.
  std::string ranks_behind() const;

  // Makes the group usable again: aborts it (Cancelled "reset") if not
  // aborted, waits until no rank is inside a collective (each returns within
  // milliseconds of an abort), then clears the staging state and the failure
  // and starts the next generation. Ranks must rejoin(). DeadlineExceeded,
  // naming the ranks still inside, if they do not leave by the deadline (the
  // group then stays aborted; build a new one).
  Status reset(Deadline deadline);

 private:
  friend Result<std::unique_ptr<CommGroup>> create_group(int, CommOptions);
  explicit CommGroup(std::shared_ptr<CommState> state);

  std::shared_ptr<CommState> state_;
  std::vector<std::unique_ptr<Communicator>> comms_;
};

// A group of world_size ranks (1 <= world_size <= 64). Reserves every rank's
// staging memory from its device (ResourceExhausted naming the rank if one
// does not fit). InvalidArgument for bad options.
Result<std::unique_ptr<CommGroup>> create_group(int world_size, CommOptions options = {});

// Aborts the group "as if the rank died" unless finish() was called before
// it is destroyed: put one at the top of a rank's step so that a thread that
// unwinds or exits mid-step cannot leave its peers waiting for it.
class RankGuard {
 public:
  explicit RankGuard(Communicator& comm) : comm_(comm) {}
  ~RankGuard();
  RankGuard(const RankGuard&) = delete;
  RankGuard& operator=(const RankGuard&) = delete;
  void finish() { finished_ = true; }

 private:
  Communicator& comm_;
  bool finished_ = false;
};

}  // namespace keel::parallel
