// make_model: random-weight HuggingFace model folders for tests and benches.
//
// write_random_model() writes what `save_pretrained` would: config.json,
// generation_config.json and the weights (model.safetensors, or shards
// model-0000k-of-0000n.safetensors plus model.safetensors.index.json), with
// the exact tensor names, shapes and config keys of real checkpoints of each
// architecture, and optionally copies tokenizer files in. Used by
// `keel make-model` and by tests that need a model on the fly.
//
// Weights (std per tensor; z ~ N(0, 1) approximated by the Irwin–Hall sum of
// four uniforms, so |z| <= 3.47):
//   linear weights (out, in): z * weight_std, by default 1/sqrt(in): every
//     projection keeps the RMS of its input, so each layer adds O(1) to the
//     residual stream at any size;
//   embeddings and lm_head: z * embedding_std, by default 2/sqrt(hidden):
//     after the final RMSNorm the logits have std ~2 (on the tiny preset the
//     top token gets ~10-30 % and the entropy is ~60 % of log(vocab); neither
//     one-hot nor flat) and, with tied embeddings, the residual is dominated
//     by the layers rather than the input embedding, so the model does not
//     just repeat its input token;
//   norm weights (incl. qwen3 q_norm/k_norm): 1 + 0.1 z, so they matter;
//   biases: 0.02 z.
// The value of element i of a tensor depends only on (seed, tensor name, i):
// files are byte-identical for a seed on any machine and thread count, and
// the f32, f16 and bf16 models of one seed hold the same numbers rounded
// (round-to-nearest-even).
//
// Thread-safety: pure functions; write_random_model generates on the global
// ThreadPool and writes only inside out_dir.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"
#include "keel/model/dtype.h"

namespace keel::model {

enum class ModelArch { kLlama, kMistral, kQwen2, kQwen3, kInternLM2 };

// "llama", "mistral", "qwen2", "qwen3", "internlm2"; InvalidArgument listing
// them otherwise.
Result<ModelArch> parse_model_arch(std::string_view name);
std::string_view model_arch_name(ModelArch arch);

enum class RopeScalingType { kLlama3, kLinear, kDynamic };

// "llama3", "linear", "dynamic"; InvalidArgument listing them otherwise.
Result<RopeScalingType> parse_rope_scaling_type(std::string_view name);
std::string_view rope_scaling_type_name(RopeScalingType type);

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kLinear;
  double factor = 1.0;
  // llama3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct MakeModelSpec {
  ModelArch arch = ModelArch::kLlama;
  int64_t num_layers = 2;
  int64_t hidden_size = 64;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;
  int64_t head_dim = 16;
  int64_t intermediate_size = 128;
  int64_t vocab_size = 512;
  int64_t max_position_embeddings = 2048;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  std::optional<RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  // llama, qwen3: bias on q/k/v/o ("attention_bias"); internlm2: bias on
  // wqkv and wo ("bias"). qwen2 always has q/k/v biases and no o bias, and
  // mistral none: for them this must stay false.
  bool attention_bias = false;
  std::optional<int64_t> sliding_window;  // mistral only; null otherwise
  std::optional<int64_t> bos_token_id = 1;
  std::vector<int64_t> eos_token_ids = {2};  // one id, or several (written as a list)
  DType dtype = DType::kBF16;                 // kF32, kF16 or kBF16
  uint64_t seed = 0;
  double weight_std = 0.0;     // linear weights; 0: 1/sqrt(fan_in)
  double embedding_std = 0.0;  // embeddings and lm_head; 0: 2/sqrt(hidden_size)
  // Tensor bytes per weights file; above it the weights are sharded.
  uint64_t shard_size_bytes = uint64_t{2} << 30;
};

// "tiny", "qwen2.5-0.5b", "llama-3.2-1b", "qwen3-0.6b".
std::vector<std::string_view> preset_names();
// The named preset's dimensions, with `arch` as the architecture (a preset
// named after a real model has that model's dimensions, rope and token ids;
// under another arch they are just dimensions). tiny: hidden 64, 2 layers,
// 4 heads, 2 KV heads (head_dim 16), intermediate 128, vocab 512, max
// positions 2048, untied. InvalidArgument listing the presets otherwise.
Result<MakeModelSpec> preset_spec(ModelArch arch, std::string_view preset);
// The architecture a real-model preset belongs to; nullopt for "tiny" or an
// unknown name.
std::optional<ModelArch> preset_arch(std::string_view preset);

// InvalidArgument naming the field (as the CLI flag spells it) for:
// non-positive dimensions; num_heads % num_kv_heads != 0; odd head_dim;
// hidden_size != num_heads * head_dim for qwen2 and internlm2 (their HF code
// derives head_dim from it); rope_theta / rms_norm_eps not positive and
// finite; rope scaling factor < 1, llama3 scaling outside llama, or bad
// llama3 frequencies; attention_bias on qwen2 or mistral; sliding_window
// outside mistral or < 1; token ids outside [0, vocab); no eos id; dtype not
// f32/f16/bf16; negative or non-finite stds; shard size 0; more than
// 100 B parameters.
Status validate(const MakeModelSpec& spec);

// Parameters the model holds (tied embeddings counted once). Saturates at
// UINT64_MAX for absurd dimensions.
uint64_t parameter_count(const MakeModelSpec& spec);

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};
// Every tensor the folder will hold, in module order (the order of HF's
// state_dict, which is also the sharding order). Assumes validate() passed.
std::vector<TensorSpec> tensor_specs(const MakeModelSpec& spec);

// The config.json / generation_config.json text (keys sorted, indent 2, as
// transformers writes them). Assume validate() passed.
std::string hf_config_json(const MakeModelSpec& spec);
std::string generation_config_json(const MakeModelSpec& spec);

struct WriteModelOptions {
  // A tokenizer.json, a tokenizer.model or a folder; copies tokenizer.json,
  // tokenizer_config.json, tokenizer.model and special_tokens_map.json
  // (whichever exist). Empty: no tokenizer files are written.
  std::string tokenizer_path;
  // If out_dir exists and is not empty: false refuses (FailedPrecondition);
  // true first deletes the files a model folder may hold (config.json,
  // generation_config.json, model*.safetensors, the index, the tokenizer
  // files) and leaves any other file alone.
  bool overwrite = false;
};

// Validates `spec` and writes the folder (created with its parents). Each
// file is written atomically (a temporary renamed into place); config.json
// is written last. Weights are generated and written a window of 4 M
// elements at a time (<= 16 MiB), whatever the model or shard size.
// Errors: validate()'s; NotFound for a
// missing tokenizer path; FailedPrecondition for a non-empty out_dir;
// Unavailable naming the path for I/O errors.
Status write_random_model(const MakeModelSpec& spec, const std::string& out_dir,
                          const WriteModelOptions& options = {});

}  // namespace keel::model
