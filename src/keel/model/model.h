// Model: a Llama-family decoder (every supported architecture) on the CPU
// backend, running batches of sequences over a paged KV cache.
//
// Concepts
// - forward() takes one step of a continuous batch: each SequenceStep is a
//   sequence's new tokens (a prefill chunk or one decode token), the
//   position of the first (= tokens already in its KV cache) and its block
//   table, and says which logits it needs. All tokens of the step go through
//   the matmuls together; attention runs per sequence over its own blocks.
// - The workspace for the largest step (max_batch_tokens tokens,
//   max_logit_rows logit rows) is reserved and allocated once, at create();
//   forward() allocates no memory. workspace_bytes() gives the size for the
//   start-up plan before anything is allocated.
// - Logits are returned as a view into the workspace, (rows, vocab) in
//   sequence order (kAll: one row per new token; kLast: one row), valid
//   until the next forward().
// Per layer (T tokens of the step, H hidden, A/K heads, D head_dim, I inter):
//   xn = rmsnorm(x)                      (T, H)
//   qkv = xn · Wqkvᵀ + b                 (T, A*D + 2*K*D) -> q (T,A,D), k, v (T,K,D)
//   [Qwen3] q, k = rmsnorm per head
//   q, k = rope(q, k, positions); kv cache <- k, v
//   a = attention(q, cache)              (T, A*D), causal per sequence
//   x += a · Woᵀ (+ b)
//   x += down(silu(gate(rmsnorm(x))) * up(...))
// Tensor parallelism (set_tensor_parallel): the model is one rank's shard
// (arch/shard.h); after the o and down projections its partial (T, H)
// outputs are summed over the ranks (all_reduce_sum, deadline from
// set_collective_deadline) before the residual add. Only rank 0 computes
// logits (ModelOptions::compute_logits is false on the others: their
// forward() returns an empty span and their workspace has no logits).
// Every rank's fault sites carry its rank.
// Ownership: a Model owns its weights, RoPE table and workspace; the KV pool
// is the caller's (one pool may be shared by many sequences).
// Thread-safety: forward() is not reentrant (one step at a time); the
// kernels inside use the thread pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "keel/backend/cpu/kernels.h"
#include "keel/backend/rope.h"
#include "keel/core/result.h"
#include "keel/core/step_progress.h"
#include "keel/memory/device.h"
#include "keel/memory/kv_block_pool.h"
#include "keel/model/config.h"
#include "keel/model/weights.h"
#include "keel/parallel/communicator.h"

namespace keel::model {

// Where one tensor-parallel rank is in its step, written by that rank's
// forward(), read by any thread (the watchdog names the rank that is stuck).
struct RankActivity {
  std::atomic<int32_t> layer{-1};            // last layer begun; -1: none yet
  std::atomic<bool> in_collective{false};    // waiting for its peers
  std::atomic<bool> in_step{false};          // set/cleared by the step's owner
};

enum class LogitsWanted : uint8_t { kNone, kLast, kAll };

struct SequenceStep {
  std::span<const int32_t> tokens;       // (n) new tokens, n >= 1
  int64_t start_pos = 0;                 // tokens already in this sequence's KV cache
  std::span<const int32_t> block_table;  // covers positions [0, start_pos + n)
  LogitsWanted logits = LogitsWanted::kLast;
};

struct ModelOptions {
  int64_t max_batch_tokens = 2048;  // tokens one forward() may process
  int64_t max_logit_rows = 256;     // logit rows one forward() may return
  int64_t max_context_tokens = 0;   // 0 = config.max_context_tokens
  // False: forward() stops after the last layer and returns no logits, and
  // the workspace has no room for them (tensor-parallel ranks other than 0).
  bool compute_logits = true;
};

class Model {
 public:
  // Bytes of the workspace create() reserves for `options`.
  static uint64_t workspace_bytes(const ModelConfig& config, const ModelOptions& options);
  // Bytes of the RoPE cos/sin table for `context_tokens` positions.
  static uint64_t rope_table_bytes(const ModelConfig& config, int64_t context_tokens);

  // Takes the loaded weights; reserves and allocates the workspace and the
  // RoPE table on `device`. InvalidArgument for bad options.
  static Result<std::unique_ptr<Model>> create(const ModelConfig& config, ModelWeights weights,
                                               backend::CpuKernels kernels,
                                               memory::Device& device, ModelOptions options);

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  const ModelOptions& options() const { return options_; }
  int64_t max_context_tokens() const { return options_.max_context_tokens; }
  const backend::CpuKernels& kernels() const { return kernels_; }
  const ModelWeights& weights() const { return weights_; }

  // One step; see the header comment. `pool` must have this model's KV
  // shape. Returns (rows, vocab) logits.
  Result<std::span<const float>> forward(std::span<const SequenceStep> batch,
                                         memory::KvBlockPool& pool);

  // Where forward() reports its layer and checks for an abort between
  // layers (Cancelled); nullptr: neither. Not owned; set between steps.
  void set_progress(StepProgress* progress) { progress_ = progress; }

  // Makes this model rank comm->rank() of a tensor-parallel group (see the
  // header comment); `activity` (optional) is kept up to date. Not owned.
  void set_tensor_parallel(parallel::Communicator* comm, RankActivity* activity) {
    comm_ = comm;
    activity_ = activity;
  }
  // The deadline of the collectives of the next forward() calls.
  void set_collective_deadline(Deadline deadline) { collective_deadline_ = deadline; }
  int tp_rank() const { return comm_ == nullptr ? 0 : comm_->rank(); }

 private:
  struct Workspace;
  Model(const ModelConfig& config, ModelWeights weights, backend::CpuKernels kernels,
        ModelOptions options);
  Status check_batch(std::span<const SequenceStep> batch, const memory::KvBlockPool& pool,
                     int64_t* num_tokens, int64_t* num_rows) const;
  Status before_layer(int index);
  // (T, H) partial sums -> their sum over the ranks (no-op without TP).
  Status reduce(float* data, int64_t num_tokens);
  Status layer(int index, std::span<const SequenceStep> batch, int64_t num_tokens,
               memory::KvBlockPool& pool);

  ModelConfig config_;
  ModelWeights weights_;
  backend::CpuKernels kernels_;
  ModelOptions options_;
  std::optional<backend::RopeTable> rope_;
  memory::Reservation rope_reservation_;
  std::unique_ptr<Workspace> ws_;
  StepProgress* progress_ = nullptr;
  parallel::Communicator* comm_ = nullptr;
  RankActivity* activity_ = nullptr;
  Deadline collective_deadline_ = Deadline::after(std::chrono::hours(1));
};

}  // namespace keel::model
