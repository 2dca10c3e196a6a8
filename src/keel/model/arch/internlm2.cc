// InternLM2ForCausalLM (modeling_internlm2.py, remote code): its own names
// and a packed, grouped wqkv.
//
// wqkv rows: (K groups, A/K + 2, D): per KV group g, A/K query heads, then
// one key head, then one value head (HF: rearrange "(h gs d)" with
// gs = 2 + A/K; q = [..., :A/K, :], k = [..., -2, :], v = [..., -1, :]).
// Query head j of group g is query head g * (A/K) + j. keel's qkv is
// [all q heads; all k heads; all v heads], so the rows are gathered here.
#include <fmt/format.h>

#include "keel/model/arch/arch.h"

namespace keel::model {
namespace {

// keel's [q; k; v] row order gathered from the grouped tensor `name`.
FusedSource ungroup_qkv(const ModelConfig& c, const std::string& name, int64_t cols) {
  const int64_t d = c.head_dim;
  const int64_t per_group = c.q_per_kv() + 2;  // heads per group
  FusedSource s;
  s.cols = cols;
  for (int g = 0; g < c.num_kv_heads; ++g) {  // all query heads, in order
    const int64_t begin = g * per_group * d;
    s.parts.push_back({name, begin, begin + c.q_per_kv() * d, c.qkv_dim()});
  }
  for (int64_t which : {per_group - 2, per_group - 1}) {  // keys, then values
    for (int g = 0; g < c.num_kv_heads; ++g) {
      const int64_t begin = (g * per_group + which) * d;
      s.parts.push_back({name, begin, begin + d, c.qkv_dim()});
    }
  }
  s.rows = c.qkv_dim();
  return s;
}

}  // namespace

ArchSources internlm2_sources(const ModelConfig& c) {
  const int64_t h = c.hidden_size;
  const int64_t inter = c.intermediate_size;
  ArchSources s;
  s.embedding = whole("model.tok_embeddings.weight", c.vocab_size, h);
  s.final_norm = whole("model.norm.weight", h);
  if (!c.tie_word_embeddings) s.lm_head = whole("output.weight", c.vocab_size, h);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LayerSources l;
    l.attn_norm = whole(p + "attention_norm.weight", h);
    l.qkv = ungroup_qkv(c, p + "attention.wqkv.weight", h);
    if (c.qkv_bias) l.qkv_bias = ungroup_qkv(c, p + "attention.wqkv.bias", 1);
    l.o = whole(p + "attention.wo.weight", h, c.q_dim());
    if (c.o_bias) l.o_bias = whole(p + "attention.wo.bias", h);
    l.mlp_norm = whole(p + "ffn_norm.weight", h);
    l.gate_up = stacked({{p + "feed_forward.w1.weight", inter}, {p + "feed_forward.w3.weight", inter}}, h);
    l.down = whole(p + "feed_forward.w2.weight", h, inter);
    s.layers.push_back(std::move(l));
  }
  return s;
}

}  // namespace keel::model
