// TpExecutor: the Executor for --tp N — N tensor-parallel ranks (threads of
// this process), each with its own CPU device and budget (total / N), its own
// thread pool (threads / N), its own weight shard (model/arch/shard.h), KV
// pool and workspace, joined by a parallel::RankGroup.
//
// Contract (beyond Executor's)
// - create() starts the ranks in order. Rank 0 (the largest shard: it also
//   holds lm_head and the o/down biases) is planned and started first; the
//   other ranks' KV pools are capped at rank 0's block count, so every rank
//   has the same blocks. Each rank's collective staging memory is reserved
//   from its budget before its runtime starts. If a rank does not fit, the
//   error names the rank and its budget.
// - kv_pool() is rank 0's pool: the engine allocates block ids there; every
//   rank stores its own heads' K/V under the same ids (the other ranks'
//   pools are storage only).
// - execute(batch) runs forward() on every rank (run_step) with one deadline,
//   collective_timeout from now, for the step and all its collectives. Rank
//   0 returns the logits. When any rank fails (an error, an injected fault,
//   a dead rank, a stall past the deadline, abort_step()) the group is
//   aborted, every rank returns within milliseconds, and execute() returns
//   the first failure naming the rank ("rank 3 failed: RESOURCE_EXHAUSTED:
//   ..."). The group is then reset (a new generation, see parallel/README.md)
//   before execute() returns, so the next step runs on a clean group; if a
//   rank is stuck and the reset cannot finish, the next execute() retries it
//   and fails until it does.
// - abort_step(why) aborts the group from any thread (the watchdog): ranks
//   blocked in a collective return `why` at once; a rank inside a stall sees
//   the engine's abort flag (attach_progress).
// - locate_stall() names the rank(s) the step waits for: "forward layer 3
//   on rank 2 (ranks 0,1,3 waiting in a collective)".
// Destruction: the rank threads stop first (bounded; see RankGroup), then the
// models, pools and devices. The engine using the executor must be gone.
// Thread-safety: as Executor; locate_stall() and abort_step() from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/thread_pool.h"
#include "keel/engine/executor.h"
#include "keel/memory/device.h"
#include "keel/model/runtime.h"
#include "keel/parallel/rank_group.h"

namespace keel::engine {

struct TpExecutorOptions {
  int world_size = 2;
  // The model and its limits; `pool` and `tp_*` are set per rank here.
  model::RuntimeOptions runtime;
  uint64_t budget_bytes = 0;  // the whole budget, split N ways
  int threads = 0;            // CPU threads for all ranks (0: the CPUs available), split N ways
  // The deadline of each step and of its collectives. Make it longer than
  // the engine's step timeout, so the watchdog reports a stall first.
  std::chrono::milliseconds collective_timeout{90'000};
  std::chrono::milliseconds abort_grace{1000};
};

class TpExecutor final : public Executor {
 public:
  static Result<std::unique_ptr<TpExecutor>> create(TpExecutorOptions options);
  ~TpExecutor() override;

  ExecutorLimits limits() const override;
  memory::KvBlockPool& kv_pool() override { return *ranks_[0].kv_pool; }
  Result<std::span<const float>> execute(std::span<const model::SequenceStep> batch) override;
  void attach_progress(StepProgress* progress) override;
  std::optional<std::string> locate_stall() const override;
  void abort_step(const Status& why) override;

  int world_size() const { return static_cast<int>(ranks_.size()); }
  const model::Runtime& runtime(int rank) const { return ranks_[static_cast<size_t>(rank)]; }
  memory::CpuDevice& device(int rank) { return *devices_[static_cast<size_t>(rank)]; }
  // Steps that failed and were recovered by a group reset.
  uint64_t num_resets() const { return num_resets_; }

 private:
  explicit TpExecutor(TpExecutorOptions options) : options_(std::move(options)) {}
  Status recover();

  TpExecutorOptions options_;
  std::vector<std::unique_ptr<memory::CpuDevice>> devices_;
  std::vector<std::unique_ptr<ThreadPool>> pools_;
  std::vector<model::Runtime> ranks_;
  std::unique_ptr<model::RankActivity[]> activity_;
  std::span<const float> logits_;  // rank 0's, of the last step
  uint64_t num_resets_ = 0;
  std::unique_ptr<parallel::RankGroup> group_;  // last: its threads stop first
};

}  // namespace keel::engine
