// Tensor-parallel shards (Megatron-LM style) of a model's weights: rank r of
// N keeps 1/N of the attention heads and of the MLP columns, so every rank
// does 1/N of the work of each layer and two all-reduces per layer join them.
//
// Per layer, rank r of N (A query heads, K KV heads, D head_dim, I inter):
//   qkv      rows: query heads [r*A/N, (r+1)*A/N); KV heads [r*K/N, (r+1)*K/N)
//            when N divides K, else (N a multiple of K) the one KV head
//            r*K/N that its query heads use, replicated on N/K ranks (vLLM's
//            rule) -> (A/N*D + 2*K'*D, H), K' = max(K/N, 1)
//   qkv_bias the same rows
//   o        columns of its query heads            -> (H, A/N*D)
//   gate_up  rows [r*I/N, (r+1)*I/N) of gate and of up -> (2*I/N, H)
//   down     the same columns                      -> (H, I/N)
//   o_bias, down_bias: rank 0 only (added once before the all-reduce)
//   norms, q/k norms: every rank (replicated)
// Whole model: the embedding and the final norm on every rank; lm_head
// (untied) on rank 0 only — rank 0 computes the logits. (A vocab-parallel
// embedding / lm_head with an all-gather of the logits is not done yet.)
// A rank's partial outputs of o and down are summed by all_reduce_sum.
// Thread-safety: pure functions.
#pragma once

#include "keel/core/status.h"
#include "keel/model/arch/arch.h"
#include "keel/model/config.h"

namespace keel::model {

// OK when `config` can be split over `world_size` ranks: A and I divisible
// by N, and K divisible by N or N by K. InvalidArgument saying which
// dimension does not divide (and which --tp values would work) otherwise.
Status check_shardable(const ModelConfig& config, int world_size);

// The shape rank `rank` computes: A/N heads, max(K/N, 1) KV heads, I/N
// intermediate; everything else unchanged.
ModelConfig shard_config(const ModelConfig& config, int rank, int world_size);

// Rank `rank`'s part of `full` (the whole model's sources for `config`).
// Requires check_shardable(config, world_size).
ArchSources shard_sources(const ArchSources& full, const ModelConfig& config, int rank,
                          int world_size);

// Rows [begin, end) of the matrix `s` describes (generic over how its parts
// are laid out, so InternLM2's gathered wqkv shards like the others).
FusedSource slice_rows(const FusedSource& s, int64_t begin, int64_t end);
// Columns [begin, end) of `s` (of its current columns).
FusedSource slice_cols(const FusedSource& s, int64_t begin, int64_t end);
// `a`'s rows then `b`'s (same columns).
FusedSource concat_rows(FusedSource a, const FusedSource& b);

}  // namespace keel::model
