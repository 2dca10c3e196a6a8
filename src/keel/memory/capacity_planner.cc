#include "keel/memory/capacity_planner.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "keel/memory/bytes.h"

namespace keel::memory {
namespace {

constexpr long double kMaxBlocks = static_cast<long double>(std::numeric_limits<BlockId>::max());

Status does_not_fit(const KvPlanInput& in, uint64_t kv_bytes, int64_t kv_tokens,
                    std::string_view advice) {
  return ResourceExhaustedError(
      "weights need {}, KV pool {} for {} tokens, workspace {}; budget {} \u2014 {}",
      format_bytes(in.weights_bytes), format_bytes(kv_bytes),
      format_count(static_cast<uint64_t>(kv_tokens)), format_bytes(in.workspace_bytes),
      format_bytes(in.budget_bytes), advice);
}

}  // namespace

std::string KvPlan::summary() const {
  return fmt::format(
      "KV pool {}: {} blocks of {} tokens = {} tokens ({} per token, {}); guaranteed "
      "concurrency {} sequences of {} tokens",
      format_bytes(kv_pool_bytes), format_count(static_cast<uint64_t>(num_blocks)),
      shape.block_size_tokens, format_count(static_cast<uint64_t>(num_tokens)),
      format_bytes(bytes_per_token), kv_dtype_name(shape.dtype),
      format_count(static_cast<uint64_t>(guaranteed_concurrency)),
      format_count(static_cast<uint64_t>(context_length_tokens)));
}

Result<KvPlan> plan_kv_cache(const KvPlanInput& in) {
  KEEL_RETURN_IF_ERROR(in.shape.validate());
  if (!(in.kv_cache_fraction > 0.0 && in.kv_cache_fraction <= 1.0)) {
    return InvalidArgumentError("--kv-cache-fraction is {}; it must be in (0, 1]",
                                in.kv_cache_fraction);
  }
  if (in.context_length_tokens < 1) {
    return InvalidArgumentError("context length is {} tokens; it must be at least 1",
                                in.context_length_tokens);
  }
  KvPlan plan;
  plan.shape = in.shape;
  plan.bytes_per_token = in.shape.bytes_per_token();
  plan.bytes_per_block = in.shape.bytes_per_block();
  plan.context_length_tokens = in.context_length_tokens;
  plan.blocks_per_sequence = in.shape.blocks_for_tokens(in.context_length_tokens);

  // What one full-length sequence needs: the smallest useful pool.
  const int64_t min_tokens = plan.blocks_per_sequence * in.shape.block_size_tokens;
  const uint64_t min_kv_bytes = static_cast<uint64_t>(plan.blocks_per_sequence) * plan.bytes_per_block;

  if (in.weights_bytes >= in.budget_bytes) {
    return does_not_fit(in, min_kv_bytes, min_tokens,
                        "the weights alone fill the budget; raise --memory-limit");
  }
  const uint64_t after_weights = in.budget_bytes - in.weights_bytes;
  if (in.workspace_bytes >= after_weights) {
    return does_not_fit(in, min_kv_bytes, min_tokens,
                        "weights and workspace fill the budget; lower --max-batch-tokens or "
                        "raise --memory-limit");
  }
  const uint64_t after_workspace = after_weights - in.workspace_bytes;
  const long double kv_target = std::floor(static_cast<long double>(after_workspace) *
                                           static_cast<long double>(in.kv_cache_fraction));
  // Block ids are int32; 2^31 blocks is far beyond any real budget.
  plan.num_blocks = static_cast<int64_t>(std::min<long double>(
      kv_target / static_cast<long double>(plan.bytes_per_block), kMaxBlocks));
  if (in.max_tokens > 0) {
    plan.num_blocks = std::min(plan.num_blocks, in.shape.blocks_for_tokens(in.max_tokens));
  }
  plan.num_tokens = plan.num_blocks * in.shape.block_size_tokens;
  plan.kv_pool_bytes = static_cast<uint64_t>(plan.num_blocks) * plan.bytes_per_block;
  if (plan.num_blocks < plan.blocks_per_sequence) {
    return does_not_fit(
        in, min_kv_bytes, min_tokens,
        fmt::format("--kv-cache-fraction {} leaves {} for the KV pool, {} tokens, less than one "
                    "sequence of {} tokens; raise --kv-cache-fraction or --memory-limit, or "
                    "lower the context length",
                    in.kv_cache_fraction, format_bytes(plan.kv_pool_bytes),
                    format_count(static_cast<uint64_t>(plan.num_tokens)),
                    format_count(static_cast<uint64_t>(in.context_length_tokens))));
  }
  plan.guaranteed_concurrency = plan.num_blocks / plan.blocks_per_sequence;
  plan.unused_bytes = after_workspace - plan.kv_pool_bytes;
  return plan;
}

}  // namespace keel::memory
