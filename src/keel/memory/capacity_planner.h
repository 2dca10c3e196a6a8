// Capacity planner: how large the KV pool can be, decided once at start-up.
//
// The rule (start-up is the only place large allocations happen, in this
// order):
//   1. weights_bytes are reserved first;
//   2. then the workspace for the largest step (workspace_bytes);
//   3. the KV pool gets kv_cache_fraction of what remains:
//        num_blocks = floor(kv_cache_fraction * (budget - weights - workspace)
//                           / bytes_per_block)
//      (at most 2^31-1: block ids are int32; at most max_tokens if set).
// So any fraction in (0, 1] fits once weights and workspace do. The plan
// fails with ResourceExhausted, naming every number, if
//   - weights + workspace fill the budget, or
//   - the pool cannot hold one sequence of context_length_tokens,
// e.g. "weights need 972.80 MiB, KV pool 8.00 MiB for 256 tokens,
//       workspace 122.88 MiB; budget 1.00 GiB — weights and workspace fill
//       the budget; lower --max-batch-tokens or raise --memory-limit".
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <string>

#include "keel/core/result.h"
#include "keel/memory/kv_shape.h"

namespace keel::memory {

struct KvPlanInput {
  KvCacheShape shape;               // model dims, KV dtype, block size
  uint64_t budget_bytes = 0;        // the device's whole budget
  uint64_t weights_bytes = 0;       // weights as stored on the device
  uint64_t workspace_bytes = 0;     // activations of the largest step (--max-batch-tokens)
  double kv_cache_fraction = 0.9;   // of (budget - weights - workspace); in (0, 1]
  int64_t context_length_tokens = 0;  // one sequence's maximum length; >= 1
  // Upper bound on the pool's tokens (0 = none): e.g. a one-shot `keel
  // generate` needs one sequence's worth, not a fraction of all memory.
  int64_t max_tokens = 0;
};

struct KvPlan {
  KvCacheShape shape;
  uint64_t bytes_per_token = 0;
  uint64_t bytes_per_block = 0;
  int64_t num_blocks = 0;
  int64_t num_tokens = 0;           // num_blocks * block_size_tokens
  uint64_t kv_pool_bytes = 0;       // num_blocks * bytes_per_block
  int64_t context_length_tokens = 0;
  int64_t blocks_per_sequence = 0;  // blocks one full-length sequence needs
  // Sequences of full context length that always fit at once.
  int64_t guaranteed_concurrency = 0;
  uint64_t unused_bytes = 0;        // budget - weights - KV pool - workspace

  // The start-up line, e.g. "KV pool 512.00 MiB: 2,048 blocks of 16 tokens =
  // 32,768 tokens (16.00 KiB per token, f32); guaranteed concurrency 4
  // sequences of 8,192 tokens".
  std::string summary() const;
};

// InvalidArgument for a bad shape, fraction or context length;
// ResourceExhausted (message above) when it does not fit.
Result<KvPlan> plan_kv_cache(const KvPlanInput& input);

}  // namespace keel::memory
