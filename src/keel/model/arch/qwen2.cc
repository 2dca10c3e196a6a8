// Qwen2ForCausalLM (HF modeling_qwen2.py): Llama's tensors with q/k/v biases
// always present (config.cc sets qkv_bias) and no output-projection bias.
#include "keel/model/arch/arch.h"

namespace keel::model {

ArchSources qwen2_sources(const ModelConfig& config) { return llama_style_sources(config); }

}  // namespace keel::model
