// The core fault points that fire inside the memory module: budget
// reservations by label (kv_pool.alloc, workspace.alloc, weights.alloc) and
// KV block allocation (kv_pool.alloc_blocks).
#include <gtest/gtest.h>

#include "keel/core/fault.h"
#include "keel/memory/block_table.h"
#include "keel/memory/budget.h"
#include "keel/memory/device.h"
#include "keel/memory/kv_block_pool.h"

namespace keel::memory {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
using fault::Point;
using fault::ScopedFaults;

KvCacheShape small_shape() {
  KvCacheShape s;
  s.num_layers = 2;
  s.num_kv_heads = 2;
  s.head_dim = 4;
  s.block_size_tokens = 16;
  s.dtype = KvDtype::kF32;
  return s;
}

TEST(BudgetFaultPointTest, KvPoolLabelFailsWhenArmedAndReservesNothing) {
  ScopedFaults faults("kv_pool.alloc:nth=1");
  MemoryBudget budget(64 * kMiB, "cpu");
  auto weights = budget.reserve(8 * kMiB, "weights");
  ASSERT_TRUE(weights.ok());
  auto kv = budget.reserve(16 * kMiB, "KV pool");
  ASSERT_FALSE(kv.ok());
  EXPECT_EQ(kv.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(kv.status().message(), "KV pool needs 16.00 MiB: injected fault kv_pool.alloc (hit 1)");
  EXPECT_EQ(budget.reserved_bytes(), 8 * kMiB);
  EXPECT_EQ(budget.snapshot().by_label.size(), 1u);
  EXPECT_EQ(fault::counters(Point::kKvPoolAlloc).injections, 1u);
  // nth=1: the second try succeeds.
  auto again = budget.reserve(16 * kMiB, "KV pool");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(budget.reserved_bytes(), 24 * kMiB);
}

TEST(BudgetFaultPointTest, LabelsMapToTheirPointsOnly) {
  ScopedFaults faults("workspace.alloc,weights.alloc");
  MemoryBudget budget(64 * kMiB);
  EXPECT_EQ(budget.reserve(kMiB, "workspace").status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(budget.reserve(kMiB, "weights").status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(budget.reserve(kMiB, "weights (rank 2 shard)").status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(budget.reserve(kMiB, "KV pool").ok());
  EXPECT_TRUE(budget.reserve(kMiB, "rope table").ok());
  EXPECT_EQ(budget.reserved_bytes(), 0u);  // successful reservations were released
  EXPECT_EQ(fault::counters(Point::kWorkspaceAlloc).injections, 1u);
  EXPECT_EQ(fault::counters(Point::kWeightsAlloc).injections, 2u);
}

TEST(BudgetFaultPointTest, RankFilterUsesTheBudgetsRank) {
  ScopedFaults faults("weights.alloc:rank=3");
  MemoryBudget rank1(64 * kMiB, "cpu:rank1");
  MemoryBudget rank3(64 * kMiB, "cpu:rank3");
  MemoryBudget unranked(64 * kMiB);
  rank1.set_rank(1);
  rank3.set_rank(3);
  EXPECT_EQ(rank3.rank(), 3);
  EXPECT_EQ(unranked.rank(), -1);
  EXPECT_TRUE(rank1.reserve(kMiB, "weights").ok());
  EXPECT_TRUE(unranked.reserve(kMiB, "weights").ok());
  auto r = rank3.reserve(kMiB, "weights");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "weights needs 1.00 MiB: injected fault weights.alloc (hit 1, rank 3)");
}

TEST(BudgetFaultPointTest, ScriptedInjectorStillWorksAlongside) {
  ScopedFaults faults("");
  MemoryBudget budget(64 * kMiB);
  auto injector = std::make_shared<ScriptedFaultInjector>("workspace", 0, 1);
  budget.set_fault_injector(injector);
  EXPECT_FALSE(budget.reserve(kMiB, "workspace").ok());
  EXPECT_TRUE(budget.reserve(kMiB, "workspace").ok());
  EXPECT_EQ(injector->num_injected(), 1);
}

TEST(PoolFaultPointTest, PoolCreationFailsUnderKvPoolAlloc) {
  ScopedFaults faults("kv_pool.alloc");
  CpuDevice cpu(64 * kMiB);
  auto pool = KvBlockPool::create(small_shape(), 8, cpu);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(pool.status().message().find("injected fault kv_pool.alloc"), std::string_view::npos);
  EXPECT_EQ(cpu.budget().reserved_bytes(), 0u);
}

TEST(PoolFaultPointTest, BlockAllocationFailsMidGenerationAndThePoolStaysWhole) {
  CpuDevice cpu(64 * kMiB);
  cpu.budget().set_rank(2);
  auto created = KvBlockPool::create(small_shape(), 8, cpu);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  KvBlockPool& pool = **created;

  ScopedFaults faults("kv_pool.alloc_blocks:nth=3:rank=2");
  BlockTable table(16, 8 * 16);
  ASSERT_TRUE(table.append_tokens(16, pool).ok());   // hit 1: one block
  ASSERT_TRUE(table.append_tokens(10, pool).ok());   // hit 2: one more block
  ASSERT_TRUE(table.append_tokens(6, pool).ok());    // no new block: no hit
  Status s = table.append_tokens(1, pool);           // hit 3: injected
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "KV pool: 1 blocks requested: injected fault kv_pool.alloc_blocks (hit 3, rank 2)");
  EXPECT_EQ(table.num_tokens(), 32);
  EXPECT_EQ(table.blocks().size(), 2u);
  EXPECT_EQ(pool.num_free(), 6);
  EXPECT_TRUE(pool.check_invariants().ok());
  EXPECT_EQ(fault::counters(Point::kKvPoolAllocBlocks).hits, 3u);

  ASSERT_TRUE(table.append_tokens(1, pool).ok());  // hit 4: fine again
  auto blocks = pool.allocate(2);
  ASSERT_TRUE(blocks.ok());
  ASSERT_TRUE(pool.release_all(*blocks).ok());
  ASSERT_TRUE(table.release(pool).ok());
  EXPECT_EQ(pool.num_free(), 8);
  EXPECT_TRUE(pool.check_invariants().ok());
}

TEST(PoolFaultPointTest, AllocateAndAllocateAppendBothHitThePoint) {
  CpuDevice cpu(64 * kMiB);
  auto created = KvBlockPool::create(small_shape(), 4, cpu);
  ASSERT_TRUE(created.ok());
  KvBlockPool& pool = **created;
  ScopedFaults faults("kv_pool.alloc_blocks");
  EXPECT_EQ(pool.allocate(1).status().code(), StatusCode::kResourceExhausted);
  std::vector<BlockId> out{7};
  EXPECT_EQ(pool.allocate_append(2, out).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(out, std::vector<BlockId>{7});
  EXPECT_TRUE(pool.allocate(0).ok());  // nothing to allocate: no hit
  EXPECT_EQ(fault::counters(Point::kKvPoolAllocBlocks).hits, 2u);
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_TRUE(pool.check_invariants().ok());
}

}  // namespace
}  // namespace keel::memory
