#include "keel/memory/block_table.h"

#include <gtest/gtest.h>

namespace keel::memory {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

class BlockTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KvCacheShape s;
    s.num_layers = 1;
    s.num_kv_heads = 1;
    s.head_dim = 4;
    s.block_size_tokens = 4;
    auto p = KvBlockPool::create(s, 8, cpu_);
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    pool_ = std::move(*p);
  }

  CpuDevice cpu_{kMiB};
  std::unique_ptr<KvBlockPool> pool_;
};

TEST_F(BlockTableTest, BlocksNeededCountsOnlyNewBlocks) {
  BlockTable t(4, /*max_tokens=*/32);
  EXPECT_EQ(t.num_blocks_needed(0), 0);
  EXPECT_EQ(t.num_blocks_needed(-3), 0);
  EXPECT_EQ(t.num_blocks_needed(1), 1);
  EXPECT_EQ(t.num_blocks_needed(4), 1);
  EXPECT_EQ(t.num_blocks_needed(5), 2);
  ASSERT_TRUE(t.append_tokens(5, *pool_).ok());  // 2 blocks, 3 slots left
  EXPECT_EQ(t.num_tokens(), 5);
  EXPECT_EQ(t.blocks().size(), 2u);
  EXPECT_EQ(t.num_blocks_needed(3), 0);
  EXPECT_EQ(t.num_blocks_needed(4), 1);
  EXPECT_EQ(t.num_blocks_needed(12), 3);
  ASSERT_TRUE(t.release(*pool_).ok());
}

TEST_F(BlockTableTest, SlotMapsTokensToBlockAndOffset) {
  BlockTable t(4, 32);
  ASSERT_TRUE(t.append_tokens(3, *pool_).ok());
  ASSERT_TRUE(t.append_tokens(6, *pool_).ok());  // 9 tokens, 3 blocks
  ASSERT_EQ(t.blocks().size(), 3u);
  for (int64_t i = 0; i < 9; ++i) {
    auto s = t.slot(i);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->block, t.blocks()[static_cast<size_t>(i / 4)]);
    EXPECT_EQ(s->offset, i % 4);
  }
  auto past = t.slot(9);
  EXPECT_EQ(past.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(past.status().message(), "token 9 is outside the sequence's 9 tokens");
  EXPECT_EQ(t.slot(-1).status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(t.release(*pool_).ok());
  EXPECT_EQ(t.num_tokens(), 0);
  EXPECT_EQ(pool_->num_free(), 8);
}

TEST_F(BlockTableTest, AppendIsAllOrNothingWhenThePoolRunsOut) {
  BlockTable a(4), b(4);
  ASSERT_TRUE(a.append_tokens(24, *pool_).ok());  // 6 of 8 blocks
  Status s = b.append_tokens(9, *pool_);          // needs 3
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("3 blocks requested, 2 of 8 free"), std::string_view::npos)
      << s.message();
  EXPECT_EQ(b.num_tokens(), 0);
  EXPECT_TRUE(b.blocks().empty());
  EXPECT_EQ(pool_->num_free(), 2);
  ASSERT_TRUE(a.release(*pool_).ok());
  ASSERT_TRUE(b.append_tokens(9, *pool_).ok());
  ASSERT_TRUE(b.release(*pool_).ok());
  EXPECT_TRUE(pool_->check_invariants().ok());
}

TEST_F(BlockTableTest, RejectsBadInput) {
  BlockTable t(4);
  EXPECT_EQ(t.append_tokens(-1, *pool_).code(), StatusCode::kInvalidArgument);
  BlockTable other_size(16);
  Status s = other_size.append_tokens(1, *pool_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "block table uses 16-token blocks but the KV pool has 4-token blocks");
}

TEST_F(BlockTableTest, AppendWithinReservedCapacityDoesNotReallocate) {
  BlockTable t(4, /*max_tokens=*/32);
  ASSERT_TRUE(t.append_tokens(1, *pool_).ok());
  const BlockId* data = t.blocks().data();
  for (int i = 0; i < 31; ++i) ASSERT_TRUE(t.append_tokens(1, *pool_).ok());
  EXPECT_EQ(t.blocks().data(), data);
  EXPECT_EQ(t.blocks().size(), 8u);
  ASSERT_TRUE(t.release(*pool_).ok());
}

TEST_F(BlockTableTest, MoveTransfersOwnership) {
  BlockTable a(4);
  ASSERT_TRUE(a.append_tokens(5, *pool_).ok());
  BlockTable b(std::move(a));
  EXPECT_EQ(b.num_tokens(), 5);
  EXPECT_TRUE(a.blocks().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  BlockTable c(4);
  c = std::move(b);
  EXPECT_EQ(c.blocks().size(), 2u);
  ASSERT_TRUE(c.release(*pool_).ok());
  EXPECT_EQ(pool_->num_free(), 8);
}

TEST_F(BlockTableTest, DroppingATableThatHoldsBlocksIsABug) {
  EXPECT_DEATH(
      {
        BlockTable t(4);
        (void)t.append_tokens(1, *pool_);
      },
      "call release\\(pool\\) first");
}

}  // namespace
}  // namespace keel::memory
