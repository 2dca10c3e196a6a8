// KvBlockPool: a fixed set of KV cache blocks, reference-counted, allocated
// from a preallocated free list in O(1) with no heap allocation.
//
// Storage (one DeviceBuffer reserved from the device's budget as "KV pool",
// once, in create()):
//   k: (num_blocks, num_layers, num_kv_heads, block_size_tokens, head_dim)
//   v: (num_blocks, num_layers, num_kv_heads, block_size_tokens, head_dim)
// elements of `dtype`; v starts right after k. A block is contiguous per
// layer, so block_k(b, layer) is a (num_kv_heads, block_size_tokens, head_dim)
// array and whole blocks can later be copied or swapped as units.
//
// Ownership and invariants (check_invariants() verifies them):
// - Each block is either free (ref_count 0, on the free list exactly once)
//   or in use (ref_count >= 1, not on the free list).
// - allocate(n) is all-or-nothing: n blocks with ref_count 1, or
//   ResourceExhausted naming how many were free, and nothing changes.
//   For n > 0 it first hits the core fault point kv_pool.alloc_blocks
//   (core/fault.h; rank: the device budget's rank() at create()), outside
//   the pool's lock; an injected fault is returned as ResourceExhausted
//   "KV pool: <n> blocks requested: injected fault ..." and nothing changes.
// - retain() adds an owner (later: prefix sharing, forks); release() drops
//   one; the block returns to the free list when the last owner releases it.
//   Releasing a free block or an unknown id is a caller bug reported as
//   FailedPrecondition / InvalidArgument, and changes nothing.
// - The pool must outlive every BlockTable that holds its blocks.
// Thread-safety: all methods are safe to call concurrently (one mutex; every
// operation is O(n) in the blocks it touches). Block *contents* are not
// synchronised: the engine's step structure decides who reads and writes.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "keel/core/result.h"
#include "keel/memory/device.h"
#include "keel/memory/kv_shape.h"

namespace keel::memory {

class KvBlockPool {
 public:
  // Validates `shape`, reserves and allocates num_blocks * bytes_per_block
  // on `device` labelled "KV pool". InvalidArgument for a bad shape or
  // num_blocks < 1; ResourceExhausted (with the budget's numbers) if it
  // does not fit.
  static Result<std::unique_ptr<KvBlockPool>> create(const KvCacheShape& shape,
                                                     int64_t num_blocks, Device& device);

  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  const KvCacheShape& shape() const { return shape_; }
  int64_t num_total() const { return static_cast<int64_t>(ref_counts_.size()); }
  int64_t num_free() const;
  uint64_t storage_bytes() const { return storage_.bytes(); }

  // n new blocks with ref_count 1, all or none.
  Result<std::vector<BlockId>> allocate(int64_t n);
  // Hot-path form: appends n blocks to `out`; allocates no heap memory when
  // `out` has the capacity. On error `out` is unchanged.
  Status allocate_append(int64_t n, std::vector<BlockId>& out);

  Status retain(BlockId block);
  Status release(BlockId block);
  // Releases each listed block once (a block may be listed twice if it has
  // two owners). All or nothing: on error no ref_count changes.
  Status release_all(std::span<const BlockId> blocks);
  // ref_count of `block`; 0 for free blocks. InvalidArgument for a bad id.
  Result<uint32_t> ref_count(BlockId block) const;

  // Every block free xor referenced; free list without duplicates or
  // out-of-range ids; counts agree. Internal with the first violation.
  Status check_invariants() const;

  // Consulted by allocate() with ("KV blocks", n * bytes_per_block), so
  // tests can make block allocation fail; nullptr removes it.
  void set_fault_injector(std::shared_ptr<FaultInjector> injector);

  // (num_kv_heads, block_size_tokens, head_dim) of K / V for one layer of
  // one block. The caller must hold a reference to `block`.
  void* block_k(BlockId block, int layer) const;
  void* block_v(BlockId block, int layer) const;

 private:
  KvBlockPool(const KvCacheShape& shape, int64_t num_blocks, DeviceBuffer storage, int rank);
  Status check_id(BlockId block) const;  // requires mu_ held or immutable data only
  Status allocate_locked(int64_t n, std::vector<BlockId>& out);
  Status check_fault_point(int64_t n) const;

  const KvCacheShape shape_;
  const uint64_t bytes_per_layer_block_;  // num_kv_heads * block_size_tokens * head_dim * dtype
  DeviceBuffer storage_;                  // k then v, see the layout above
  const int rank_;                        // for fault points; -1: none
  mutable std::mutex mu_;
  std::vector<uint32_t> ref_counts_;      // guarded by mu_; (num_blocks)
  std::vector<uint8_t> on_free_list_;     // guarded by mu_; (num_blocks), 1 if free
  std::vector<BlockId> free_list_;        // guarded by mu_; a stack, capacity num_blocks
  std::shared_ptr<FaultInjector> injector_;  // guarded by mu_
};

}  // namespace keel::memory
