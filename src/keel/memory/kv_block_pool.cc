#include "keel/memory/kv_block_pool.h"

#include <limits>

#include "keel/core/check.h"
#include "keel/core/fault.h"
#include "keel/memory/bytes.h"

namespace keel::memory {

Result<std::unique_ptr<KvBlockPool>> KvBlockPool::create(const KvCacheShape& shape,
                                                         int64_t num_blocks, Device& device) {
  KEEL_RETURN_IF_ERROR(shape.validate());
  if (num_blocks < 1 || num_blocks > std::numeric_limits<BlockId>::max()) {
    return InvalidArgumentError("KV pool: num_blocks is {}; it must be between 1 and {}",
                                num_blocks, std::numeric_limits<BlockId>::max());
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(num_blocks), shape.bytes_per_block(), &bytes)) {
    return InvalidArgumentError("KV pool: {} blocks of {} overflow 64 bits",
                                format_count(static_cast<uint64_t>(num_blocks)),
                                format_bytes(shape.bytes_per_block()));
  }
  KEEL_ASSIGN_OR_RETURN(DeviceBuffer storage, device.allocate(bytes, "KV pool"));
  return std::unique_ptr<KvBlockPool>(
      new KvBlockPool(shape, num_blocks, std::move(storage), device.budget().rank()));
}

KvBlockPool::KvBlockPool(const KvCacheShape& shape, int64_t num_blocks, DeviceBuffer storage,
                         int rank)
    : shape_(shape),
      bytes_per_layer_block_(static_cast<uint64_t>(shape.num_kv_heads) * shape.block_size_tokens *
                             shape.head_dim * kv_dtype_bytes(shape.dtype)),
      storage_(std::move(storage)),
      rank_(rank),
      ref_counts_(static_cast<size_t>(num_blocks), 0),
      on_free_list_(static_cast<size_t>(num_blocks), 1) {
  free_list_.reserve(static_cast<size_t>(num_blocks));
  // A stack popped from the back: hand out 0, 1, 2, ... first.
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_list_.push_back(static_cast<BlockId>(b));
}

int64_t KvBlockPool::num_free() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(free_list_.size());
}

Status KvBlockPool::check_id(BlockId block) const {
  if (block < 0 || block >= static_cast<int64_t>(ref_counts_.size())) {
    return InvalidArgumentError("KV block id {} is out of range; the pool has blocks 0..{}",
                                block, static_cast<int64_t>(ref_counts_.size()) - 1);
  }
  return OkStatus();
}

Status KvBlockPool::allocate_locked(int64_t n, std::vector<BlockId>& out) {
  if (n < 0) return InvalidArgumentError("KV pool: cannot allocate {} blocks", n);
  if (injector_ != nullptr) {
    KEEL_RETURN_IF_ERROR(
        injector_->before_reserve("KV blocks", static_cast<uint64_t>(n) * shape_.bytes_per_block()));
  }
  if (n > static_cast<int64_t>(free_list_.size())) {
    return ResourceExhaustedError(
        "KV pool: {} blocks requested, {} of {} free ({} tokens per block); finish or preempt "
        "sequences, or give the pool more memory with --kv-cache-fraction",
        n, free_list_.size(), ref_counts_.size(), shape_.block_size_tokens);
  }
  for (int64_t i = 0; i < n; ++i) {
    BlockId b = free_list_.back();
    free_list_.pop_back();
    KEEL_CHECK(on_free_list_[b] == 1 && ref_counts_[b] == 0) << "KV pool free list corrupt at " << b;
    on_free_list_[b] = 0;
    ref_counts_[b] = 1;
    out.push_back(b);
  }
  return OkStatus();
}

Status KvBlockPool::check_fault_point(int64_t n) const {
  if (n <= 0) return OkStatus();
  Status s = fault::check(fault::Point::kKvPoolAllocBlocks, {.rank = rank_});
  if (s.ok()) return s;
  return Status(s.code(), fmt::format("KV pool: {} blocks requested: {}", n, s.message()));
}

Result<std::vector<BlockId>> KvBlockPool::allocate(int64_t n) {
  KEEL_RETURN_IF_ERROR(check_fault_point(n));
  std::vector<BlockId> out;
  if (n > 0) out.reserve(static_cast<size_t>(std::min<int64_t>(n, num_total())));
  std::lock_guard<std::mutex> lock(mu_);
  KEEL_RETURN_IF_ERROR(allocate_locked(n, out));
  return out;
}

Status KvBlockPool::allocate_append(int64_t n, std::vector<BlockId>& out) {
  KEEL_RETURN_IF_ERROR(check_fault_point(n));
  std::lock_guard<std::mutex> lock(mu_);
  return allocate_locked(n, out);
}

Status KvBlockPool::retain(BlockId block) {
  KEEL_RETURN_IF_ERROR(check_id(block));
  std::lock_guard<std::mutex> lock(mu_);
  if (ref_counts_[block] == 0) {
    return FailedPreconditionError("KV block {} is free; only a block in use can be retained",
                                   block);
  }
  if (ref_counts_[block] == std::numeric_limits<uint32_t>::max()) {
    return FailedPreconditionError("KV block {} has 2^32-1 owners; retain leaks somewhere", block);
  }
  ++ref_counts_[block];
  return OkStatus();
}

Status KvBlockPool::release(BlockId block) { return release_all(std::span<const BlockId>(&block, 1)); }

Status KvBlockPool::release_all(std::span<const BlockId> blocks) {
  for (BlockId b : blocks) KEEL_RETURN_IF_ERROR(check_id(b));
  std::lock_guard<std::mutex> lock(mu_);
  // Pass 1: drop one reference each, undoing everything if one is already 0.
  for (size_t i = 0; i < blocks.size(); ++i) {
    BlockId b = blocks[i];
    if (ref_counts_[b] == 0) {
      for (size_t j = 0; j < i; ++j) ++ref_counts_[blocks[j]];
      return FailedPreconditionError(
          "KV block {} released more often than it was allocated and retained (entry {} of {}); "
          "nothing was released", b, i, blocks.size());
    }
    --ref_counts_[b];
  }
  // Pass 2: blocks whose last owner left go back on the free list, once.
  for (BlockId b : blocks) {
    if (ref_counts_[b] == 0 && on_free_list_[b] == 0) {
      on_free_list_[b] = 1;
      free_list_.push_back(b);  // never reallocates: capacity is num_blocks
    }
  }
  return OkStatus();
}

Result<uint32_t> KvBlockPool::ref_count(BlockId block) const {
  KEEL_RETURN_IF_ERROR(check_id(block));
  std::lock_guard<std::mutex> lock(mu_);
  return ref_counts_[block];
}

Status KvBlockPool::check_invariants() const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = ref_counts_.size();
  std::vector<uint8_t> seen(n, 0);
  for (BlockId b : free_list_) {
    if (b < 0 || static_cast<size_t>(b) >= n) {
      return InternalError("KV pool free list holds out-of-range id {}", b);
    }
    if (seen[b]) return InternalError("KV pool free list holds block {} twice", b);
    seen[b] = 1;
  }
  for (size_t b = 0; b < n; ++b) {
    bool is_free = seen[b] == 1;
    if (is_free != (on_free_list_[b] == 1)) {
      return InternalError("KV block {}: free-list flag {} disagrees with the free list", b,
                           on_free_list_[b]);
    }
    if (is_free && ref_counts_[b] != 0) {
      return InternalError("KV block {} is on the free list with ref_count {}", b, ref_counts_[b]);
    }
    if (!is_free && ref_counts_[b] == 0) {
      return InternalError("KV block {} is neither free nor referenced (leaked)", b);
    }
  }
  if (free_list_.capacity() < n) {
    return InternalError("KV pool free list capacity {} < {} blocks; release would allocate",
                         free_list_.capacity(), n);
  }
  return OkStatus();
}

void KvBlockPool::set_fault_injector(std::shared_ptr<FaultInjector> injector) {
  std::lock_guard<std::mutex> lock(mu_);
  injector_ = std::move(injector);
}

void* KvBlockPool::block_k(BlockId block, int layer) const {
  KEEL_CHECK(block >= 0 && block < num_total()) << "KV block " << block;
  KEEL_CHECK(layer >= 0 && layer < shape_.num_layers) << "layer " << layer;
  uint64_t offset = (static_cast<uint64_t>(block) * shape_.num_layers + layer) * bytes_per_layer_block_;
  return static_cast<std::byte*>(storage_.data()) + offset;
}

void* KvBlockPool::block_v(BlockId block, int layer) const {
  uint64_t k_bytes = static_cast<uint64_t>(num_total()) * shape_.num_layers * bytes_per_layer_block_;
  return static_cast<std::byte*>(block_k(block, layer)) + k_bytes;
}

}  // namespace keel::memory
