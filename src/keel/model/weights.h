// ModelWeights: a model's weights copied into budget-reserved device memory,
// in the fused layout the forward pass uses (arch/arch.h).
//
// Concepts
// - plan_weights() validates a checkpoint against an architecture's sources
//   before anything is allocated: every tensor present, 2-D/1-D with the
//   expected shape, the parts of one fused matrix of one dtype, dtype
//   F32/F16/BF16. Errors name the tensor and what was expected. It returns
//   the exact bytes the weights will take, for the start-up plan.
// - load_weights() reserves those bytes from the device budget ("weights"),
//   in one allocation, and copies: matrices keep their dtype (no inflation),
//   1-D weights (norms, biases) become f32. Every array starts 64-byte
//   aligned.
// Ownership: ModelWeights owns the DeviceBuffer every view points into; the
// checkpoint (mmap) is not needed afterwards.
// Thread-safety: loaded weights are immutable.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "keel/backend/cpu/kernels.h"
#include "keel/core/result.h"
#include "keel/memory/device.h"
#include "keel/model/arch/arch.h"
#include "keel/model/safetensors.h"

namespace keel::model {

struct LayerWeights {
  const float* attn_norm = nullptr;     // (H)
  backend::WeightView qkv;              // (A*D + 2*K*D, H)
  const float* qkv_bias = nullptr;      // (A*D + 2*K*D) or null
  const float* q_norm = nullptr;        // (D) or null
  const float* k_norm = nullptr;        // (D) or null
  backend::WeightView o;                // (H, A*D)
  const float* o_bias = nullptr;        // (H) or null
  const float* mlp_norm = nullptr;      // (H)
  backend::WeightView gate_up;          // (2*I, H): gate rows then up rows
  const float* gate_up_bias = nullptr;  // (2*I) or null
  backend::WeightView down;             // (H, I)
  const float* down_bias = nullptr;     // (H) or null
};

struct ModelWeights {
  backend::WeightView embedding;  // (V, H)
  std::vector<LayerWeights> layers;
  const float* final_norm = nullptr;  // (H)
  backend::WeightView lm_head;        // (V, H); the embedding when tied
  memory::DeviceBuffer storage;       // owns everything above
};

struct WeightPlan {
  uint64_t bytes = 0;            // device bytes load_weights() will reserve
  backend::DType matrix_dtype = backend::DType::kF32;  // the embedding's dtype
  uint64_t num_parameters = 0;
};

// Validates `checkpoint` against `sources`; allocates nothing.
Result<WeightPlan> plan_weights(const ArchSources& sources, const SafetensorsModel& checkpoint);

// Called with (bytes copied, total bytes) as the copy proceeds.
using LoadProgress = std::function<void(uint64_t, uint64_t)>;

Result<ModelWeights> load_weights(const ArchSources& sources, const SafetensorsModel& checkpoint,
                                  memory::Device& device, const LoadProgress& progress = {});

}  // namespace keel::model
