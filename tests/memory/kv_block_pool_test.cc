#include "keel/memory/kv_block_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>
#include <vector>

namespace keel::memory {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

KvCacheShape small_shape(KvDtype dtype = KvDtype::kF32) {
  KvCacheShape s;
  s.num_layers = 2;
  s.num_kv_heads = 2;
  s.head_dim = 4;
  s.block_size_tokens = 16;
  s.dtype = dtype;
  return s;
}

std::unique_ptr<KvBlockPool> make_pool(CpuDevice& cpu, int64_t num_blocks,
                                       KvDtype dtype = KvDtype::kF32) {
  auto pool = KvBlockPool::create(small_shape(dtype), num_blocks, cpu);
  KEEL_CHECK(pool.ok()) << pool.status().to_string();
  return std::move(*pool);
}

TEST(KvCacheShapeTest, BytesPerTokenAndBlock) {
  KvCacheShape s = small_shape();
  ASSERT_TRUE(s.validate().ok());
  EXPECT_EQ(s.bytes_per_token(), 2u * 2 * 2 * 4 * 4);  // K+V, layers, heads, head_dim, f32
  EXPECT_EQ(s.bytes_per_block(), s.bytes_per_token() * 16);
  EXPECT_EQ(small_shape(KvDtype::kBF16).bytes_per_token(), s.bytes_per_token() / 2);
  EXPECT_EQ(s.blocks_for_tokens(0), 0);
  EXPECT_EQ(s.blocks_for_tokens(16), 1);
  EXPECT_EQ(s.blocks_for_tokens(17), 2);
}

TEST(KvCacheShapeTest, RejectsBadDimensions) {
  KvCacheShape s = small_shape();
  s.head_dim = 0;
  Status st = s.validate();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "KV cache shape: head_dim is 0; it must be at least 1");
  s = small_shape();
  s.num_layers = 1 << 30;
  s.num_kv_heads = 1 << 30;
  EXPECT_NE(s.validate().message().find("more than 2^48 bytes"), std::string_view::npos);
}

TEST(KvBlockPoolTest, CreateReservesTheStorageFromTheBudget) {
  CpuDevice cpu(kMiB);
  {
    auto pool = make_pool(cpu, 8);
    EXPECT_EQ(pool->num_total(), 8);
    EXPECT_EQ(pool->num_free(), 8);
    EXPECT_EQ(pool->storage_bytes(), 8 * small_shape().bytes_per_block());
    auto snap = cpu.budget().snapshot();
    ASSERT_EQ(snap.by_label.size(), 1u);
    EXPECT_EQ(snap.by_label[0].first, "KV pool");
    EXPECT_EQ(snap.by_label[0].second, pool->storage_bytes());
  }
  EXPECT_EQ(cpu.budget().reserved_bytes(), 0u);
}

TEST(KvBlockPoolTest, CreateFailsWithNumbersWhenTooBig) {
  CpuDevice cpu(kMiB);
  auto pool = KvBlockPool::create(small_shape(), 1000, cpu);  // 1000 * 2 KiB > 1 MiB
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.status().message(),
            "KV pool needs 1.95 MiB; budget 1.00 MiB, 0 B reserved, 1.00 MiB free");
  auto zero = KvBlockPool::create(small_shape(), 0, cpu);
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  KvCacheShape bad = small_shape();
  bad.block_size_tokens = -1;
  EXPECT_EQ(KvBlockPool::create(bad, 4, cpu).status().code(), StatusCode::kInvalidArgument);
}

TEST(KvBlockPoolTest, InjectedFaultAtCreate) {
  CpuDevice cpu(kMiB);
  cpu.budget().set_fault_injector(std::make_shared<ScriptedFaultInjector>("KV pool", 0, 1));
  auto pool = KvBlockPool::create(small_shape(), 4, cpu);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("injected fault: KV pool"), std::string_view::npos);
  EXPECT_TRUE(KvBlockPool::create(small_shape(), 4, cpu).ok());
}

TEST(KvBlockPoolTest, AllocateIsAllOrNothing) {
  CpuDevice cpu(kMiB);
  auto pool = make_pool(cpu, 4);
  auto a = pool->allocate(3);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<BlockId>{0, 1, 2}));
  auto b = pool->allocate(2);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(b.status().message().find("2 blocks requested, 1 of 4 free (16 tokens per block)"),
            std::string_view::npos)
      << b.status().message();
  EXPECT_EQ(pool->num_free(), 1);
  EXPECT_TRUE(pool->check_invariants().ok());
  auto none = pool->allocate(0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(pool->allocate(-1).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(pool->release_all(*a).ok());
  EXPECT_EQ(pool->num_free(), 4);
  EXPECT_TRUE(pool->check_invariants().ok());
}

TEST(KvBlockPoolTest, RefCountsKeepSharedBlocksAlive) {
  CpuDevice cpu(kMiB);
  auto pool = make_pool(cpu, 4);
  auto a = pool->allocate(1);
  ASSERT_TRUE(a.ok());
  BlockId b = (*a)[0];
  ASSERT_TRUE(pool->retain(b).ok());
  EXPECT_EQ(*pool->ref_count(b), 2u);
  ASSERT_TRUE(pool->release(b).ok());
  EXPECT_EQ(pool->num_free(), 3);  // still owned once
  ASSERT_TRUE(pool->release(b).ok());
  EXPECT_EQ(pool->num_free(), 4);
  EXPECT_EQ(*pool->ref_count(b), 0u);
  EXPECT_TRUE(pool->check_invariants().ok());
}

TEST(KvBlockPoolTest, MisuseIsReportedAndChangesNothing) {
  CpuDevice cpu(kMiB);
  auto pool = make_pool(cpu, 4);
  Status free_release = pool->release(1);
  EXPECT_EQ(free_release.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(free_release.message().find("KV block 1 released more often"), std::string_view::npos);
  EXPECT_EQ(pool->retain(1).code(), StatusCode::kFailedPrecondition);
  Status bad_id = pool->release(4);
  EXPECT_EQ(bad_id.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_id.message(), "KV block id 4 is out of range; the pool has blocks 0..3");
  EXPECT_EQ(pool->retain(-1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pool->ref_count(9).status().code(), StatusCode::kInvalidArgument);

  // A list that releases one block twice, owned once: nothing is released.
  auto a = pool->allocate(2);
  ASSERT_TRUE(a.ok());
  std::vector<BlockId> twice = {(*a)[0], (*a)[1], (*a)[0]};
  EXPECT_EQ(pool->release_all(twice).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*pool->ref_count((*a)[0]), 1u);
  EXPECT_EQ(*pool->ref_count((*a)[1]), 1u);
  EXPECT_EQ(pool->num_free(), 2);
  EXPECT_TRUE(pool->check_invariants().ok());
  // Listed twice and owned twice is fine.
  ASSERT_TRUE(pool->retain((*a)[0]).ok());
  EXPECT_TRUE(pool->release_all(twice).ok());
  EXPECT_EQ(pool->num_free(), 4);
  EXPECT_TRUE(pool->check_invariants().ok());
}

TEST(KvBlockPoolTest, AllocateAppendDoesNotReallocate) {
  CpuDevice cpu(kMiB);
  auto pool = make_pool(cpu, 8);
  std::vector<BlockId> out;
  out.reserve(8);
  const BlockId* before = out.data();
  ASSERT_TRUE(pool->allocate_append(5, out).ok());
  ASSERT_TRUE(pool->allocate_append(3, out).ok());
  EXPECT_EQ(out.data(), before);
  EXPECT_EQ(out.size(), 8u);
  EXPECT_FALSE(pool->allocate_append(1, out).ok());
  EXPECT_EQ(out.size(), 8u);  // unchanged on error
  ASSERT_TRUE(pool->release_all(out).ok());
}

TEST(KvBlockPoolTest, FaultInjectorFailsBlockAllocation) {
  CpuDevice cpu(kMiB);
  auto pool = make_pool(cpu, 4);
  pool->set_fault_injector(std::make_shared<ScriptedFaultInjector>("KV blocks", 1, 1));
  auto first = pool->allocate(1);
  ASSERT_TRUE(first.ok());
  auto second = pool->allocate(1);
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(second.status().message().find("injected fault: KV blocks"), std::string_view::npos);
  EXPECT_EQ(pool->num_free(), 3);
  pool->set_fault_injector(nullptr);
  ASSERT_TRUE(pool->release_all(*first).ok());
}

TEST(KvBlockPoolTest, LayoutMatchesTheShapeComment) {
  // k: (num_blocks, num_layers, num_kv_heads, block_size, head_dim); v after k.
  CpuDevice cpu(kMiB);
  auto pool = make_pool(cpu, 3, KvDtype::kF16);
  const KvCacheShape& s = pool->shape();
  const uint64_t layer_block_bytes =
      static_cast<uint64_t>(s.num_kv_heads) * s.block_size_tokens * s.head_dim * 2;
  auto* base = static_cast<std::byte*>(pool->block_k(0, 0));
  EXPECT_EQ(static_cast<std::byte*>(pool->block_k(0, 1)) - base,
            static_cast<ptrdiff_t>(layer_block_bytes));
  EXPECT_EQ(static_cast<std::byte*>(pool->block_k(2, 1)) - base,
            static_cast<ptrdiff_t>((2 * s.num_layers + 1) * layer_block_bytes));
  EXPECT_EQ(static_cast<std::byte*>(pool->block_v(0, 0)) - base,
            static_cast<ptrdiff_t>(pool->storage_bytes() / 2));
  // The last byte of the last V block is the last byte of the storage.
  EXPECT_EQ(static_cast<std::byte*>(pool->block_v(2, 1)) + layer_block_bytes - base,
            static_cast<ptrdiff_t>(pool->storage_bytes()));
}

// Random alloc/retain/release sequences keep the pool whole: after every
// step the invariants hold, and at the end every block is free again.
TEST(KvBlockPoolTest, RandomOperationsKeepThePoolWhole) {
  CpuDevice cpu(16 * kMiB);
  auto pool = make_pool(cpu, 64);
  std::mt19937 rng(12345);
  std::vector<BlockId> owned;  // one entry per reference held
  for (int step = 0; step < 5000; ++step) {
    int op = static_cast<int>(rng() % 3);
    if (op == 0) {
      int64_t n = static_cast<int64_t>(rng() % 9);
      int64_t free_before = pool->num_free();
      auto got = pool->allocate(n);
      if (got.ok()) {
        ASSERT_LE(n, free_before);
        owned.insert(owned.end(), got->begin(), got->end());
      } else {
        ASSERT_EQ(got.status().code(), StatusCode::kResourceExhausted);
        ASSERT_GT(n, free_before);
        ASSERT_EQ(pool->num_free(), free_before);
      }
    } else if (op == 1 && !owned.empty()) {
      BlockId b = owned[rng() % owned.size()];
      ASSERT_TRUE(pool->retain(b).ok());
      owned.push_back(b);
    } else if (!owned.empty()) {
      size_t k = 1 + rng() % std::min<size_t>(owned.size(), 6);
      std::shuffle(owned.begin(), owned.end(), rng);
      std::vector<BlockId> drop(owned.end() - static_cast<ptrdiff_t>(k), owned.end());
      owned.resize(owned.size() - k);
      ASSERT_TRUE(pool->release_all(drop).ok());
    }
    Status inv = pool->check_invariants();
    ASSERT_TRUE(inv.ok()) << "step " << step << ": " << inv.to_string();
    std::vector<BlockId> distinct = owned;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    ASSERT_EQ(pool->num_free(), 64 - static_cast<int64_t>(distinct.size())) << "step " << step;
  }
  ASSERT_TRUE(pool->release_all(owned).ok());
  EXPECT_EQ(pool->num_free(), 64);
  EXPECT_TRUE(pool->check_invariants().ok());
}

// Threads allocate, share and release concurrently (TSan-clean).
TEST(KvBlockPoolTest, ConcurrentUseKeepsThePoolWhole) {
  CpuDevice cpu(16 * kMiB);
  auto pool = make_pool(cpu, 32);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 3000; ++i) {
        auto got = pool->allocate(1 + static_cast<int64_t>(rng() % 4));
        if (!got.ok()) continue;
        for (BlockId b : *got) {
          if (!pool->retain(b).ok()) ++failures;
        }
        std::vector<BlockId> twice = *got;
        twice.insert(twice.end(), got->begin(), got->end());
        if (!pool->release_all(twice).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(pool->num_free(), 32);
  EXPECT_TRUE(pool->check_invariants().ok());
}

}  // namespace
}  // namespace keel::memory
