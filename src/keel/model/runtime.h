// Runtime: start-up of a model for serving — the one place large
// allocations happen.
//
// start_runtime() does, in order:
//   1. read config.json / generation_config.json, open the checkpoint
//      (memory-mapped) and validate every tensor (plan_weights);
//   2. plan: weights bytes (exact), RoPE table + workspace for the largest
//      step (--max-batch-tokens), and the KV pool = kv_cache_fraction of what
//      the budget has left after the weights and the workspace
//      (memory::plan_kv_cache). If it does not fit, it returns
//      ResourceExhausted with every number before allocating anything:
//        "weights need 0.95 GiB, KV pool 8.00 MiB for 256 tokens,
//         workspace 0.12 GiB; budget 1.00 GiB — weights and workspace fill
//         the budget; lower --max-batch-tokens or raise --memory-limit"
//   3. allocate weights, RoPE table + workspace, and the KV pool, each
//      reserved from the device's budget first.
// After start-up, a forward step allocates nothing.
// Ownership: the Runtime owns the model and the pool; the pool outlives
// nothing that holds its blocks (the engine releases blocks first).
// Thread-safety: start_runtime is a function; the Runtime is owned by one
// engine thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "keel/backend/cpu_features.h"
#include "keel/core/result.h"
#include "keel/memory/capacity_planner.h"
#include "keel/memory/device.h"
#include "keel/memory/kv_block_pool.h"
#include "keel/model/config.h"
#include "keel/model/model.h"
#include "keel/model/weights.h"

namespace keel::model {

struct RuntimeOptions {
  std::string model_dir;
  ModelOptions model;               // max batch tokens, logit rows, context
  double kv_cache_fraction = 0.9;   // of the budget left after weights and workspace
  int64_t max_kv_tokens = 0;        // cap on the pool (0 = none)
  int block_size_tokens = 16;
  std::optional<memory::KvDtype> kv_dtype;  // default: the weights' dtype
  std::optional<backend::Isa> isa;          // default: backend::default_isa()
  backend::GemmPrecision gemm_precision = backend::GemmPrecision::kAuto;
  ThreadPool* pool = nullptr;               // default: ThreadPool::global()
  LoadProgress progress;                    // weight copy progress
  // Tensor parallelism: start rank tp_rank's shard of a tp_size-way split
  // (arch/shard.h) on `device` (that rank's own budget). The caller joins the
  // ranks' models with Model::set_tensor_parallel.
  int tp_rank = 0;
  int tp_size = 1;
};

struct Runtime {
  ModelConfig config;  // the shape this rank computes (shard_config when tp_size > 1)
  ModelConfig full_config;  // the model's own (== config when tp_size == 1)
  int tp_rank = 0;
  int tp_size = 1;
  GenerationConfig generation;
  WeightPlan weights;
  memory::KvPlan kv_plan;
  uint64_t workspace_bytes = 0;  // workspace + RoPE table
  std::unique_ptr<Model> model;
  std::unique_ptr<memory::KvBlockPool> kv_pool;
};

Result<Runtime> start_runtime(const RuntimeOptions& options, memory::Device& device);

// The KV dtype matching a weight dtype (f32 -> f32, f16 -> f16, bf16 -> bf16).
memory::KvDtype default_kv_dtype(backend::DType weights);

}  // namespace keel::model
