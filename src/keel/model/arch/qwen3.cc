// Qwen3ForCausalLM (HF modeling_qwen3.py): Llama's tensors plus per-head
// RMSNorm weights self_attn.q_norm / k_norm (head_dim), applied to q and k
// before RoPE; head_dim is explicit and may differ from hidden / heads.
#include "keel/model/arch/arch.h"

namespace keel::model {

ArchSources qwen3_sources(const ModelConfig& config) { return llama_style_sources(config); }

}  // namespace keel::model
