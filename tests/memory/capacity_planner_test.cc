#include "keel/memory/capacity_planner.h"

#include <gtest/gtest.h>

#include <limits>

#include "keel/memory/device.h"
#include "keel/memory/kv_block_pool.h"

namespace keel::memory {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// A Llama-3.2-1B-like cache: 16 layers, 8 KV heads, head_dim 64, f16:
// 2 * 16 * 8 * 64 * 2 = 32 KiB per token.
KvPlanInput llama_like() {
  KvPlanInput in;
  in.shape.num_layers = 16;
  in.shape.num_kv_heads = 8;
  in.shape.head_dim = 64;
  in.shape.block_size_tokens = 16;
  in.shape.dtype = KvDtype::kF16;
  in.budget_bytes = 4 * kGiB;
  in.weights_bytes = 2 * kGiB;
  in.workspace_bytes = 128 * kMiB;
  in.kv_cache_fraction = 0.5;
  in.context_length_tokens = 8192;
  return in;
}

TEST(CapacityPlannerTest, PlansBlocksTokensAndConcurrency) {
  auto plan = plan_kv_cache(llama_like());
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->bytes_per_token, 32u * 1024);
  EXPECT_EQ(plan->bytes_per_block, 512u * 1024);
  // Half of the 1.875 GiB after weights and workspace: 960 MiB, 1,920 blocks.
  EXPECT_EQ(plan->kv_pool_bytes, 960 * kMiB);
  EXPECT_EQ(plan->num_blocks, 1920);
  EXPECT_EQ(plan->num_tokens, 30720);
  EXPECT_EQ(plan->blocks_per_sequence, 512);
  EXPECT_EQ(plan->guaranteed_concurrency, 3);
  EXPECT_EQ(plan->unused_bytes, 960 * kMiB);
  EXPECT_EQ(plan->summary(),
            "KV pool 960.00 MiB: 1,920 blocks of 16 tokens = 30,720 tokens (32.00 KiB per token, "
            "f16); guaranteed concurrency 3 sequences of 8,192 tokens");
}

TEST(CapacityPlannerTest, PartialBlocksRoundDown) {
  KvPlanInput in = llama_like();
  in.context_length_tokens = 8193;                // 513 blocks per sequence
  in.budget_bytes = 2 * kGiB + 2 * kGiB + 100;    // a few stray bytes
  auto plan = plan_kv_cache(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->num_blocks, 1920);  // floor(0.5 * (1.875 GiB + 100 B) / 512 KiB)
  EXPECT_EQ(plan->blocks_per_sequence, 513);
  EXPECT_EQ(plan->guaranteed_concurrency, 3);
}

TEST(CapacityPlannerTest, TooBigSaysEveryNumberAndWhatToDo) {
  KvPlanInput in = llama_like();
  in.budget_bytes = kGiB;
  in.weights_bytes = 600 * kMiB;
  in.workspace_bytes = 500 * kMiB;
  auto plan = plan_kv_cache(in);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(plan.status().message(),
            "weights need 600.00 MiB, KV pool 256.00 MiB for 8,192 tokens, workspace 500.00 MiB; "
            "budget 1.00 GiB — weights and workspace fill the budget; lower "
            "--max-batch-tokens or raise --memory-limit");
}

// The fraction is of what remains after the workspace: a large fraction
// never fails because of the workspace (it did when it was a fraction of
// budget - weights: 0.9 of 424 MiB left no room for 200 MiB of workspace).
TEST(CapacityPlannerTest, AnyFractionFitsOnceWeightsAndWorkspaceDo) {
  KvPlanInput in = llama_like();
  in.budget_bytes = kGiB;
  in.weights_bytes = 600 * kMiB;
  in.workspace_bytes = 200 * kMiB;
  in.context_length_tokens = 4096;
  in.kv_cache_fraction = 0.9;  // 0.9 * 224 MiB = 201.6 MiB -> 403 blocks
  auto plan = plan_kv_cache(in);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->num_blocks, 403);
  EXPECT_EQ(plan->guaranteed_concurrency, 1);
}

TEST(CapacityPlannerTest, WeightsAloneTooBig) {
  KvPlanInput in = llama_like();
  in.budget_bytes = kGiB;
  in.weights_bytes = kGiB;
  auto plan = plan_kv_cache(in);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "weights need 1.00 GiB, KV pool 256.00 MiB for 8,192 tokens, workspace 128.00 MiB; "
            "budget 1.00 GiB \u2014 the weights alone fill the budget; raise --memory-limit");
}

TEST(CapacityPlannerTest, PoolSmallerThanOneSequence) {
  KvPlanInput in = llama_like();
  in.kv_cache_fraction = 0.05;  // 0.05 * 1.875 GiB = 96 MiB -> 192 blocks < 512 per sequence
  auto plan = plan_kv_cache(in);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(plan.status().message(),
            "weights need 2.00 GiB, KV pool 256.00 MiB for 8,192 tokens, workspace 128.00 MiB; "
            "budget 4.00 GiB \u2014 --kv-cache-fraction 0.05 leaves 96.00 MiB for the KV pool, "
            "3,072 tokens, less than one sequence of 8,192 tokens; raise --kv-cache-fraction or "
            "--memory-limit, or lower the context length");
}

TEST(CapacityPlannerTest, RejectsBadInput) {
  KvPlanInput in = llama_like();
  in.kv_cache_fraction = 0;
  EXPECT_EQ(plan_kv_cache(in).status().message(), "--kv-cache-fraction is 0; it must be in (0, 1]");
  in.kv_cache_fraction = 1.5;
  EXPECT_EQ(plan_kv_cache(in).status().code(), StatusCode::kInvalidArgument);
  in.kv_cache_fraction = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(plan_kv_cache(in).status().code(), StatusCode::kInvalidArgument);
  in = llama_like();
  in.context_length_tokens = 0;
  EXPECT_EQ(plan_kv_cache(in).status().message(),
            "context length is 0 tokens; it must be at least 1");
  in = llama_like();
  in.shape.num_kv_heads = 0;
  EXPECT_EQ(plan_kv_cache(in).status().code(), StatusCode::kInvalidArgument);
}

TEST(CapacityPlannerTest, FractionOneUsesEverythingButWorkspaceMustStillFit) {
  KvPlanInput in = llama_like();
  in.kv_cache_fraction = 1.0;
  in.workspace_bytes = 0;
  auto plan = plan_kv_cache(in);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->kv_pool_bytes, 2 * kGiB);
  EXPECT_EQ(plan->unused_bytes, 0u);
  in.workspace_bytes = 2 * kGiB;
  EXPECT_EQ(plan_kv_cache(in).status().code(), StatusCode::kResourceExhausted);
}

// A plan that succeeds really fits: weights, the pool and the workspace can
// all be allocated from a budget of exactly budget_bytes.
TEST(CapacityPlannerTest, SuccessfulPlanFitsTheRealBudget) {
  KvPlanInput in;
  in.shape.num_layers = 5;
  in.shape.num_kv_heads = 4;
  in.shape.head_dim = 8;
  in.shape.block_size_tokens = 16;
  in.budget_bytes = 8 * kMiB;
  in.weights_bytes = 1040128;  // stories260K
  in.workspace_bytes = 300 * 1024;
  in.kv_cache_fraction = 0.9;
  in.context_length_tokens = 512;
  auto plan = plan_kv_cache(in);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  CpuDevice cpu(in.budget_bytes);
  auto weights = cpu.allocate(in.weights_bytes, "weights");
  ASSERT_TRUE(weights.ok()) << weights.status().to_string();
  auto pool = KvBlockPool::create(plan->shape, plan->num_blocks, cpu);
  ASSERT_TRUE(pool.ok()) << pool.status().to_string();
  auto workspace = cpu.allocate(in.workspace_bytes, "workspace");
  ASSERT_TRUE(workspace.ok()) << workspace.status().to_string();
  EXPECT_EQ(cpu.budget().free_bytes(), plan->unused_bytes);
  EXPECT_EQ((*pool)->num_total(), plan->num_blocks);
  EXPECT_GE(plan->guaranteed_concurrency, 1);
}

}  // namespace
}  // namespace keel::memory
