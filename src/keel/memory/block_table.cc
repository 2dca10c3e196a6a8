#include "keel/memory/block_table.h"

#include <utility>

#include "keel/core/check.h"

namespace keel::memory {

BlockTable::BlockTable(int block_size_tokens, int64_t max_tokens)
    : block_size_tokens_(block_size_tokens) {
  KEEL_CHECK(block_size_tokens >= 1) << "block_size_tokens " << block_size_tokens;
  if (max_tokens > 0) {
    blocks_.reserve(static_cast<size_t>((max_tokens + block_size_tokens - 1) / block_size_tokens));
  }
}

BlockTable::~BlockTable() {
  KEEL_CHECK(blocks_.empty()) << "BlockTable destroyed holding " << blocks_.size()
                              << " KV blocks; call release(pool) first";
}

BlockTable::BlockTable(BlockTable&& other) noexcept
    : block_size_tokens_(other.block_size_tokens_),
      num_tokens_(std::exchange(other.num_tokens_, 0)),
      blocks_(std::move(other.blocks_)) {
  other.blocks_.clear();
}

BlockTable& BlockTable::operator=(BlockTable&& other) noexcept {
  if (this != &other) {
    KEEL_CHECK(blocks_.empty()) << "move-assigning onto a BlockTable that holds "
                                << blocks_.size() << " KV blocks would leak them";
    block_size_tokens_ = other.block_size_tokens_;
    num_tokens_ = std::exchange(other.num_tokens_, 0);
    blocks_ = std::move(other.blocks_);
    other.blocks_.clear();
  }
  return *this;
}

int64_t BlockTable::num_blocks_needed(int64_t num_new_tokens) const {
  if (num_new_tokens <= 0) return 0;
  int64_t capacity_tokens = static_cast<int64_t>(blocks_.size()) * block_size_tokens_;
  int64_t total = num_tokens_ + num_new_tokens;
  if (total <= capacity_tokens) return 0;
  return (total - capacity_tokens + block_size_tokens_ - 1) / block_size_tokens_;
}

Status BlockTable::append_tokens(int64_t num_new_tokens, KvBlockPool& pool) {
  if (num_new_tokens < 0) {
    return InvalidArgumentError("cannot append {} tokens to a block table", num_new_tokens);
  }
  if (pool.shape().block_size_tokens != block_size_tokens_) {
    return InvalidArgumentError(
        "block table uses {}-token blocks but the KV pool has {}-token blocks",
        block_size_tokens_, pool.shape().block_size_tokens);
  }
  KEEL_RETURN_IF_ERROR(pool.allocate_append(num_blocks_needed(num_new_tokens), blocks_));
  num_tokens_ += num_new_tokens;
  return OkStatus();
}

Result<KvSlot> BlockTable::slot(int64_t token_index) const {
  if (token_index < 0 || token_index >= num_tokens_) {
    return OutOfRangeError("token {} is outside the sequence's {} tokens", token_index,
                           num_tokens_);
  }
  return KvSlot{blocks_[static_cast<size_t>(token_index / block_size_tokens_)],
                static_cast<int>(token_index % block_size_tokens_)};
}

Status BlockTable::release(KvBlockPool& pool) {
  KEEL_RETURN_IF_ERROR(pool.release_all(blocks_));
  blocks_.clear();
  num_tokens_ = 0;
  return OkStatus();
}

}  // namespace keel::memory
