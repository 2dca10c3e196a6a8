#include "keel/model/runtime.h"

#include <fmt/format.h>

#include "keel/core/logging.h"
#include "keel/memory/bytes.h"
#include "keel/model/arch/arch.h"
#include "keel/model/arch/shard.h"
#include "keel/model/safetensors.h"

namespace keel::model {

memory::KvDtype default_kv_dtype(backend::DType weights) {
  switch (weights) {
    case backend::DType::kF16:
      return memory::KvDtype::kF16;
    case backend::DType::kBF16:
      return memory::KvDtype::kBF16;
    case backend::DType::kF32:
      break;
  }
  return memory::KvDtype::kF32;
}

Result<Runtime> start_runtime(const RuntimeOptions& options, memory::Device& device) {
  Runtime rt;
  KEEL_ASSIGN_OR_RETURN(rt.full_config, load_model_config(options.model_dir));
  KEEL_ASSIGN_OR_RETURN(rt.generation, load_generation_config(options.model_dir));
  KEEL_ASSIGN_OR_RETURN(SafetensorsModel checkpoint, SafetensorsModel::open(options.model_dir));
  KEEL_RETURN_IF_ERROR(check_shardable(rt.full_config, options.tp_size));
  if (options.tp_rank < 0 || options.tp_rank >= options.tp_size) {
    return InvalidArgumentError("tensor-parallel rank {} is outside [0, {})", options.tp_rank,
                                options.tp_size);
  }
  rt.tp_rank = options.tp_rank;
  rt.tp_size = options.tp_size;
  rt.config = shard_config(rt.full_config, options.tp_rank, options.tp_size);
  const ArchSources sources = shard_sources(arch_sources(rt.full_config), rt.full_config,
                                            options.tp_rank, options.tp_size);
  KEEL_ASSIGN_OR_RETURN(rt.weights, plan_weights(sources, checkpoint));

  ModelOptions model_options = options.model;
  model_options.compute_logits = options.tp_rank == 0;
  if (model_options.max_context_tokens == 0) {
    model_options.max_context_tokens = rt.config.max_context_tokens;
  }
  rt.workspace_bytes = Model::workspace_bytes(rt.config, model_options) +
                       Model::rope_table_bytes(rt.config, model_options.max_context_tokens);

  memory::KvPlanInput in;
  in.shape.num_layers = rt.config.num_layers;
  in.shape.num_kv_heads = rt.config.num_kv_heads;
  in.shape.head_dim = rt.config.head_dim;
  in.shape.block_size_tokens = options.block_size_tokens;
  in.shape.dtype = options.kv_dtype.value_or(default_kv_dtype(rt.weights.matrix_dtype));
  in.budget_bytes = device.budget().free_bytes();
  in.weights_bytes = rt.weights.bytes;
  in.workspace_bytes = rt.workspace_bytes;
  in.kv_cache_fraction = options.kv_cache_fraction;
  in.context_length_tokens = model_options.max_context_tokens;
  in.max_tokens = options.max_kv_tokens;
  KEEL_ASSIGN_OR_RETURN(rt.kv_plan, memory::plan_kv_cache(in));
  KEEL_LOG_INFO("model {}{}: {} parameters, weights {} ({})", options.model_dir,
                options.tp_size > 1
                    ? fmt::format(" (tensor-parallel rank {} of {})", options.tp_rank, options.tp_size)
                    : std::string(),
                memory::format_count(rt.weights.num_parameters),
                memory::format_bytes(rt.weights.bytes),
                backend::dtype_name(rt.weights.matrix_dtype));

  KEEL_ASSIGN_OR_RETURN(backend::Isa isa,
                        options.isa ? Result<backend::Isa>(*options.isa) : backend::default_isa());
  ThreadPool* pool = options.pool != nullptr ? options.pool : &ThreadPool::global();
  KEEL_ASSIGN_OR_RETURN(backend::CpuKernels kernels, backend::CpuKernels::create(isa, pool));
  kernels.set_gemm_precision(options.gemm_precision);
  KEEL_ASSIGN_OR_RETURN(ModelWeights weights,
                        load_weights(sources, checkpoint, device, options.progress));
  KEEL_ASSIGN_OR_RETURN(rt.model, Model::create(rt.config, std::move(weights), kernels, device,
                                                model_options));
  KEEL_ASSIGN_OR_RETURN(rt.kv_pool,
                        memory::KvBlockPool::create(rt.kv_plan.shape, rt.kv_plan.num_blocks, device));
  KEEL_LOG_INFO("{}", rt.kv_plan.summary());
  return rt;
}

}  // namespace keel::model
