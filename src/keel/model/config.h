// ModelConfig: what keel needs from a HuggingFace model folder's config.json
// (and generation_config.json), normalised over the supported architectures.
//
// Concepts
// - One Architecture per HF class name (config "architectures"[0]):
//   LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
//   InternLM2ForCausalLM. All are decoder-only pre-norm transformers with
//   RMSNorm, RoPE (rotate_half), GQA attention and a SiLU-gated MLP; the
//   differences are captured as flags here and as tensor names in arch/*.cc.
// - An unknown architecture is Unimplemented naming the supported ones; a
//   missing or malformed key is InvalidArgument naming the file and key.
// - Context: max_context_tokens is the longest sequence keel runs. It is
//   max_position_embeddings, lowered to sliding_window where a model uses a
//   sliding window (keel's attention is full causal, which equals windowed
//   attention while no sequence is longer than the window).
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/backend/rope.h"
#include "keel/core/result.h"

namespace keel::model {

enum class Architecture { kLlama, kMistral, kQwen2, kQwen3, kInternLM2 };

// "LlamaForCausalLM", ...
std::string_view architecture_name(Architecture arch);
// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages.
std::string supported_architectures();

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  std::string model_type;  // config "model_type", for logs

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;        // H
  int64_t intermediate_size = 0;  // I
  int num_layers = 0;
  int num_heads = 0;     // A (query heads)
  int num_kv_heads = 0;  // K; num_heads % num_kv_heads == 0
  int head_dim = 0;      // D; config "head_dim" or H / A
  float rms_norm_eps = 1e-6f;
  backend::RopeConfig rope;  // rope.head_dim == head_dim
  int64_t max_position_embeddings = 0;
  std::optional<int64_t> sliding_window;  // only where the model applies it
  int64_t max_context_tokens = 0;         // see the header comment

  bool tie_word_embeddings = false;
  bool qkv_bias = false;   // q/k/v projections have a bias
  bool o_bias = false;     // output projection has a bias
  bool mlp_bias = false;   // gate/up/down have biases (Llama mlp_bias)
  bool qk_norm = false;    // Qwen3: RMSNorm per head on q and k before RoPE

  std::string torch_dtype;  // as written ("bfloat16", ...); weights keep the file's dtype
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;  // config.json's eos_token_id (int or list)

  int q_per_kv() const { return num_heads / num_kv_heads; }
  int64_t q_dim() const { return int64_t{num_heads} * head_dim; }     // A * D
  int64_t kv_dim() const { return int64_t{num_kv_heads} * head_dim; }  // K * D
  int64_t qkv_dim() const { return q_dim() + 2 * kv_dim(); }

  // Every dimension positive and consistent; InvalidArgument otherwise.
  Status validate() const;
  // "Qwen2ForCausalLM: 24 layers, hidden 896, 14 heads / 2 KV heads x 64, ..."
  std::string summary() const;
};

// generation_config.json (all optional).
struct GenerationConfig {
  std::vector<int32_t> eos_token_ids;
  std::optional<int32_t> bos_token_id;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<float> repetition_penalty;
  std::optional<bool> do_sample;
  std::optional<int64_t> max_length;
};

// Parses config.json text; `source` names it in errors.
Result<ModelConfig> parse_model_config(std::string_view json_text, std::string_view source);
Result<GenerationConfig> parse_generation_config(std::string_view json_text,
                                                 std::string_view source);
// <dir>/config.json (NotFound if absent).
Result<ModelConfig> load_model_config(const std::string& dir);
// <dir>/generation_config.json, or an empty GenerationConfig if absent.
Result<GenerationConfig> load_generation_config(const std::string& dir);

}  // namespace keel::model
