// LlamaForCausalLM (HF modeling_llama.py): the naming the other Llama-style
// architectures share. Biases: `attention_bias` adds q/k/v/o biases,
// `mlp_bias` gate/up/down biases. RoPE scaling (llama3, linear, dynamic NTK)
// is read in config.cc.
#include <fmt/format.h>

#include "keel/model/arch/arch.h"

namespace keel::model {

ArchSources llama_style_sources(const ModelConfig& c) {
  const int64_t h = c.hidden_size;
  const int64_t inter = c.intermediate_size;
  ArchSources s;
  s.embedding = whole("model.embed_tokens.weight", c.vocab_size, h);
  s.final_norm = whole("model.norm.weight", h);
  if (!c.tie_word_embeddings) s.lm_head = whole("lm_head.weight", c.vocab_size, h);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    const std::string a = p + "self_attn.";
    const std::string m = p + "mlp.";
    LayerSources l;
    l.attn_norm = whole(p + "input_layernorm.weight", h);
    l.qkv = stacked({{a + "q_proj.weight", c.q_dim()},
                     {a + "k_proj.weight", c.kv_dim()},
                     {a + "v_proj.weight", c.kv_dim()}},
                    h);
    if (c.qkv_bias) {
      l.qkv_bias = stacked({{a + "q_proj.bias", c.q_dim()},
                            {a + "k_proj.bias", c.kv_dim()},
                            {a + "v_proj.bias", c.kv_dim()}},
                           1);
    }
    if (c.qk_norm) {
      l.q_norm = whole(a + "q_norm.weight", c.head_dim);
      l.k_norm = whole(a + "k_norm.weight", c.head_dim);
    }
    l.o = whole(a + "o_proj.weight", h, c.q_dim());
    if (c.o_bias) l.o_bias = whole(a + "o_proj.bias", h);
    l.mlp_norm = whole(p + "post_attention_layernorm.weight", h);
    l.gate_up = stacked({{m + "gate_proj.weight", inter}, {m + "up_proj.weight", inter}}, h);
    l.down = whole(m + "down_proj.weight", h, inter);
    if (c.mlp_bias) {
      l.gate_up_bias = stacked({{m + "gate_proj.bias", inter}, {m + "up_proj.bias", inter}}, 1);
      l.down_bias = whole(m + "down_proj.bias", h);
    }
    s.layers.push_back(std::move(l));
  }
  return s;
}

ArchSources llama_sources(const ModelConfig& config) { return llama_style_sources(config); }

}  // namespace keel::model
