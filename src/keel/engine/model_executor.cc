#include "keel/engine/model_executor.h"

namespace keel::engine {

ExecutorLimits ModelExecutor::limits() const {
  const model::Model& m = *runtime_.model;
  return ExecutorLimits{runtime_.config.vocab_size, m.options().max_batch_tokens,
                        m.options().max_logit_rows, m.max_context_tokens()};
}

Result<std::span<const float>> ModelExecutor::execute(std::span<const model::SequenceStep> batch) {
  return runtime_.model->forward(batch, *runtime_.kv_pool);
}

}  // namespace keel::engine
