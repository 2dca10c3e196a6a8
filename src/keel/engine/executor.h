// Executor: what the engine calls to run one step, so the engine can be
// driven by the real model (ModelExecutor) or by a scripted fake in tests
// (FakeExecutor).
//
// Contract
// - execute(batch) runs one forward step over the KV pool returned by
//   kv_pool(): each SequenceStep's tokens are written to its KV slots and
//   the logits rows it asks for are returned, (rows, vocab_size) in batch
//   order. The view is valid until the next execute().
// - A failed step returns a non-OK status; the KV contents of the sequences
//   in that batch are then unspecified (the engine fails those requests).
// - A step whose progress abort flag is raised (a watchdog) returns
//   Cancelled soon — between layers, or from inside a stall.
// - The batch respects limits(): at most max_batch_tokens tokens, at most
//   max_logit_rows rows, positions below max_context_tokens.
// Thread-safety: execute() is called by one thread at a time (the engine's
// step thread); limits() and kv_pool() may be read from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "keel/core/result.h"
#include "keel/core/step_progress.h"
#include "keel/memory/kv_block_pool.h"
#include "keel/model/model.h"

namespace keel::engine {

struct ExecutorLimits {
  int64_t vocab_size = 0;
  int64_t max_batch_tokens = 0;    // tokens one step may carry
  int64_t max_logit_rows = 0;      // logit rows one step may return
  int64_t max_context_tokens = 0;  // the context window
};

class Executor {
 public:
  virtual ~Executor() = default;

  virtual ExecutorLimits limits() const = 0;
  virtual memory::KvBlockPool& kv_pool() = 0;
  // (rows, vocab_size) logits for the batch; see the contract above.
  virtual Result<std::span<const float>> execute(std::span<const model::SequenceStep> batch) = 0;
  // Where execute() reports its progress (layer) and sees an abort
  // request (then it returns Cancelled soon). Called once, before the
  // first execute(); `progress` outlives the executor's use of it.
  virtual void attach_progress(StepProgress* progress) = 0;

  // Where a step that runs too long is stuck, for the watchdog's report and
  // the requests' error ("forward layer 3 on rank 2 ..."); nullopt: the
  // engine's StepProgress says it. Any thread.
  virtual std::optional<std::string> locate_stall() const { return std::nullopt; }
  // Ends a running step from another thread (the watchdog) beyond the
  // progress abort flag: e.g. aborts the tensor-parallel group so ranks
  // blocked in collectives return `why` at once. Any thread.
  virtual void abort_step(const Status& /*why*/) {}
};

}  // namespace keel::engine
