// Architecture tensor maps: where each weight of the shared Llama-family
// forward pass comes from in a HuggingFace checkpoint (one file per
// architecture: llama.cc, mistral.cc, qwen2.cc, qwen3.cc, internlm2.cc).
//
// Concepts
// - keel's layer has fused matrices: qkv = [q; k; v] rows, (A*D + 2*K*D, H),
//   and gate_up = [gate; up] rows, (2*I, H), so a layer makes 4 matmuls, not 7.
// - A FusedSource lists the row ranges of checkpoint tensors that, stacked in
//   order, make one keel weight. A plain tensor is one slice of all its rows;
//   InternLM2's grouped wqkv becomes many slices of one tensor.
// - 1-D weights (norms, biases) use the same description with cols == 1.
// - A source may take a column range of its tensors (col_begin, cols of
//   tensor_cols): tensor-parallel shards of o_proj / down_proj (shard.h).
// - A source that is absent from the map (empty parts) means "not present"
//   (no bias, no q/k norm); `tied` lm_head reuses the embedding.
// Thread-safety: pure functions over a validated ModelConfig.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/core/result.h"
#include "keel/model/config.h"

namespace keel::model {

struct RowSlice {
  std::string tensor;
  int64_t row_begin = 0;
  int64_t row_end = 0;  // exclusive
  int64_t tensor_rows = 0;  // the checkpoint tensor's expected first dimension
};

// Rows stacked from `parts`; every part's tensor must have `cols` columns
// (1-D tensors: cols == 1).
struct FusedSource {
  std::vector<RowSlice> parts;
  int64_t rows = 0;
  int64_t cols = 0;         // columns taken: [col_begin, col_begin + cols)
  int64_t col_begin = 0;
  int64_t tensor_cols = 0;  // the tensors' columns; 0: == cols (all of them)
  bool present() const { return !parts.empty(); }
  int64_t full_cols() const { return tensor_cols == 0 ? cols : tensor_cols; }
};

struct LayerSources {
  FusedSource attn_norm;     // (H)
  FusedSource qkv;           // (A*D + 2*K*D, H)
  FusedSource qkv_bias;      // (A*D + 2*K*D) or absent
  FusedSource q_norm;        // (D) or absent
  FusedSource k_norm;        // (D) or absent
  FusedSource o;             // (H, A*D)
  FusedSource o_bias;        // (H) or absent
  FusedSource mlp_norm;      // (H)
  FusedSource gate_up;       // (2*I, H)
  FusedSource gate_up_bias;  // (2*I) or absent
  FusedSource down;          // (H, I)
  FusedSource down_bias;     // (H) or absent
};

struct ArchSources {
  FusedSource embedding;   // (V, H)
  std::vector<LayerSources> layers;
  FusedSource final_norm;  // (H)
  FusedSource lm_head;     // (V, H); absent when tied
};

// A whole tensor as one source: (rows, cols), or (rows) with cols == 1.
FusedSource whole(std::string tensor, int64_t rows, int64_t cols = 1);
// Several whole tensors stacked by rows (each (rows_i, cols)).
FusedSource stacked(const std::vector<std::pair<std::string, int64_t>>& tensors, int64_t cols);

// The HF Llama naming ("model.layers.{i}.self_attn.q_proj.weight", ...) with
// the biases and norms `config` asks for; Llama, Mistral, Qwen2 and Qwen3 use it.
ArchSources llama_style_sources(const ModelConfig& config);

ArchSources llama_sources(const ModelConfig& config);
ArchSources mistral_sources(const ModelConfig& config);
ArchSources qwen2_sources(const ModelConfig& config);
ArchSources qwen3_sources(const ModelConfig& config);
ArchSources internlm2_sources(const ModelConfig& config);

// Dispatches on config.arch.
ArchSources arch_sources(const ModelConfig& config);

}  // namespace keel::model
