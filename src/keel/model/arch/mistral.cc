// MistralForCausalLM (HF modeling_mistral.py): Llama's tensors and equations.
// Its sliding window is handled in config.cc by limiting the context to the
// window, where full causal attention and windowed attention agree.
#include "keel/model/arch/arch.h"

namespace keel::model {

ArchSources mistral_sources(const ModelConfig& config) { return llama_style_sources(config); }

}  // namespace keel::model
