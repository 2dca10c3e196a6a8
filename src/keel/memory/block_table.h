// BlockTable: one sequence's map from token positions to KV cache slots.
//
// Token i lives in block blocks()[i / block_size_tokens] at offset
// i % block_size_tokens. The table owns one reference to each of its blocks
// and must give them back with release(pool) before it is destroyed (the
// destructor CHECKs that, because a dropped table would leak pool blocks).
//
// append_tokens(n, pool) grows the sequence by n tokens, allocating exactly
// num_blocks_needed(n) new blocks, all or nothing. With the capacity
// reserved at construction (max_tokens), appending allocates no heap memory.
// Thread-safety: none; a table belongs to one sequence, driven by one thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "keel/core/result.h"
#include "keel/memory/kv_block_pool.h"

namespace keel::memory {

struct KvSlot {
  BlockId block = 0;
  int offset = 0;  // token offset within the block, in [0, block_size_tokens)
};

class BlockTable {
 public:
  // `max_tokens` sizes the block list up front (0: grow on demand).
  explicit BlockTable(int block_size_tokens, int64_t max_tokens = 0);
  ~BlockTable();
  // Moving transfers the blocks; the source becomes empty. Assigning onto
  // a table that still holds blocks is a bug (it would leak them).
  BlockTable(BlockTable&& other) noexcept;
  BlockTable& operator=(BlockTable&& other) noexcept;
  BlockTable(const BlockTable&) = delete;
  BlockTable& operator=(const BlockTable&) = delete;

  int block_size_tokens() const { return block_size_tokens_; }
  int64_t num_tokens() const { return num_tokens_; }
  std::span<const BlockId> blocks() const { return blocks_; }

  // New blocks that appending `num_new_tokens` needs (0 while the last
  // block has room). Negative counts are treated as 0.
  int64_t num_blocks_needed(int64_t num_new_tokens) const;

  // Grows by num_new_tokens (>= 0), allocating the needed blocks from
  // `pool`. InvalidArgument for a negative count or a pool of another
  // block size; the pool's ResourceExhausted if it lacks blocks (then the
  // table is unchanged).
  Status append_tokens(int64_t num_new_tokens, KvBlockPool& pool);

  // Where token `token_index` is stored; OutOfRange past num_tokens().
  Result<KvSlot> slot(int64_t token_index) const;

  // Gives every block back to `pool` and empties the table.
  Status release(KvBlockPool& pool);

 private:
  int block_size_tokens_;
  int64_t num_tokens_ = 0;
  std::vector<BlockId> blocks_;  // (ceil(num_tokens / block_size_tokens))
};

}  // namespace keel::memory
