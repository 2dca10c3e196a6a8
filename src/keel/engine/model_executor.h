// ModelExecutor: the Executor over a started model::Runtime (its model and
// its KV pool). Owns the runtime; the engine that uses it must be destroyed
// first (it returns every block to the pool).
// Thread-safety: see Executor.
#pragma once

#include "keel/engine/executor.h"
#include "keel/model/runtime.h"

namespace keel::engine {

class ModelExecutor final : public Executor {
 public:
  explicit ModelExecutor(model::Runtime runtime) : runtime_(std::move(runtime)) {}

  ExecutorLimits limits() const override;
  memory::KvBlockPool& kv_pool() override { return *runtime_.kv_pool; }
  Result<std::span<const float>> execute(std::span<const model::SequenceStep> batch) override;
  void attach_progress(StepProgress* progress) override { runtime_.model->set_progress(progress); }

  const model::Runtime& runtime() const { return runtime_; }
  model::Runtime& runtime() { return runtime_; }

 private:
  model::Runtime runtime_;
};

}  // namespace keel::engine
