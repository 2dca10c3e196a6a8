// FakeExecutor: a scripted Executor for engine and server tests — no model,
// a real (tiny) KvBlockPool, deterministic logits, injectable failures.
//
// Behaviour
// - The "KV cache" is a token id per slot: execute() writes each step's
//   tokens into the slots its block table names and, for every logits row,
//   reads the whole sequence back from the slots. So a wrong block table, a
//   block shared by mistake or a resume that skipped recompute changes the
//   output (or reads a never-written slot: Internal).
// - The logits row after a sequence s has one peak, at next_token(s), of
//   height kPeakLogit over zeros; greedy output is thus next_token applied
//   repeatedly, which a test can compute without the engine.
// - The batch is checked like Model::forward checks it (limits, block table
//   coverage, context window): a violation is InvalidArgument / OutOfRange.
// - fail_next_steps(n, status) makes the next n execute() calls fail.
// Thread-safety: as Executor; the inspection methods may be called from any
// thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "keel/engine/executor.h"
#include "keel/memory/device.h"

namespace keel::engine {

struct FakeExecutorOptions {
  int64_t vocab_size = 64;
  int64_t max_batch_tokens = 32;
  int64_t max_logit_rows = 8;
  int64_t max_context_tokens = 256;
  int block_size_tokens = 4;
  int64_t num_blocks = 64;
};

// One sequence of one executed step, for tests.
struct FakeSeqRecord {
  int64_t start_pos = 0;
  int64_t num_tokens = 0;
  bool logits = false;
};

class FakeExecutor final : public Executor {
 public:
  static constexpr float kPeakLogit = 8.0f;

  static Result<std::unique_ptr<FakeExecutor>> create(const FakeExecutorOptions& options);

  // The argmax after `sequence` (all its tokens, newest last):
  // (last + 1 + sum % 3) % vocab_size.
  static int32_t next_token(std::span<const int32_t> sequence, int64_t vocab_size);

  ExecutorLimits limits() const override;
  memory::KvBlockPool& kv_pool() override { return *pool_; }
  Result<std::span<const float>> execute(std::span<const model::SequenceStep> batch) override;
  // execute() hits the fault points step.stall and kernel.error (phase
  // "forward") with this progress's abort flag, as the model does.
  void attach_progress(StepProgress* progress) override { progress_ = progress; }

  // The next `count` execute() calls fail with `status` (must be non-OK).
  void fail_next_steps(int count, Status status);
  // Every execute() call so far (failed ones included), in order.
  std::vector<std::vector<FakeSeqRecord>> steps() const;
  int64_t num_steps() const;

 private:
  FakeExecutor(const FakeExecutorOptions& options, std::unique_ptr<memory::CpuDevice> device,
               std::unique_ptr<memory::KvBlockPool> pool);
  Status check(std::span<const model::SequenceStep> batch) const;
  Status write_and_read(const model::SequenceStep& step, int64_t* row);

  const FakeExecutorOptions options_;
  std::unique_ptr<memory::CpuDevice> device_;  // the pool's budget
  std::unique_ptr<memory::KvBlockPool> pool_;
  mutable std::mutex mu_;
  std::vector<int32_t> slots_;   // (num_blocks * block_size): token id, -1 never written
  std::vector<float> logits_;    // (max_logit_rows, vocab_size)
  std::vector<int32_t> scratch_; // one sequence read back
  std::vector<std::vector<FakeSeqRecord>> steps_;  // guarded by mu_
  int fail_count_ = 0;  // guarded by mu_
  Status fail_status_;  // guarded by mu_
  StepProgress* progress_ = nullptr;
};

}  // namespace keel::engine
