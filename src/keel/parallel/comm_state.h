// Internal: the state a CommGroup's communicators share. Not part of the
// module's API (see communicator.h for the contract).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "keel/memory/device.h"
#include "keel/parallel/communicator.h"

namespace keel::parallel {

enum class OpKind : uint8_t { kAllReduceSum, kAllGather, kBroadcast, kBarrier };
const char* op_kind_name(OpKind kind);  // "all_reduce", ...

// What a rank announced for one collective; compared across ranks after the
// collective's first barrier.
struct OpDesc {
  OpKind kind = OpKind::kBarrier;
  uint64_t seq = 0;
  uint64_t count = 0;
  int root = -1;
};

// One rank's shared part, on its own cache lines.
struct alignas(64) RankSlot {
  // Barriers this rank has arrived at in the current generation. A barrier
  // number k is complete when every rank's `arrived` >= k.
  std::atomic<uint64_t> arrived{0};
  // True while the rank is inside a collective (between enter and leave):
  // reset() waits for every rank to be outside.
  std::atomic<bool> inside{false};
  // Written by the rank before its collective's first barrier, read by all
  // after it. Indexed by seq & 1: collective k+2 rewrites desc[k & 1] only
  // after every rank arrived at collective k+1, i.e. finished reading k.
  OpDesc desc[2];
  float* input = nullptr;   // (max_elements): this rank's data, copied in
  float* result = nullptr;  // (slice_capacity): this rank's reduced slice
};

struct CommState {
  int world_size = 0;
  size_t max_elements = 0;
  size_t slice_capacity = 0;  // floats per result slice (multiple of 16)
  int64_t spin_ns = 0;

  // Private devices when the options gave none; declared before the buffers
  // so the buffers are freed first.
  std::vector<std::unique_ptr<memory::CpuDevice>> own_devices;
  std::vector<memory::DeviceBuffer> buffers;  // one per rank
  std::unique_ptr<RankSlot[]> ranks;

  // Set by the first failure, cleared only by reset().
  std::atomic<bool> aborted{false};
  std::atomic<uint64_t> generation{0};

  mutable std::mutex failure_mu;
  std::optional<GroupFailure> failure;  // guarded by failure_mu

  // Waiters sleep here; arrivals that complete a barrier and aborts notify.
  std::mutex wait_mu;
  std::condition_variable wait_cv;
  std::atomic<int> sleepers{0};

  std::mutex reset_mu;  // one reset at a time

  // Records `status` as the failure (if it is the first) and wakes every
  // waiter. Any thread.
  void abort(int rank, Status status);
  std::optional<GroupFailure> first_failure() const;
  // Notifies sleeping waiters (cheap when none sleeps).
  void wake_sleepers();
  // True when every rank has arrived at barrier `target`.
  bool all_arrived(uint64_t target) const;
  // "0,1,3": ranks whose `arrived` is >= target (arrived = true) or < target.
  std::string ranks_where(uint64_t target, bool arrived) const;
  int first_missing(uint64_t target) const;
  // "rank 2" / "ranks 2,3": the ranks not yet at barrier `target`.
  std::string missing_ranks(uint64_t target) const;
};

// The first failure's status, for a rank that saw the abort flag.
Status aborted_status(const CommState& s);

// One collective call on one rank.
struct Communicator::Op {
  OpKind kind = OpKind::kBarrier;
  uint64_t seq = 0;     // its number in this rank's generation (1-based)
  size_t count = 0;     // elements per rank
  int root = -1;        // broadcast only
  SteadyTime entered{};
};

}  // namespace keel::parallel
