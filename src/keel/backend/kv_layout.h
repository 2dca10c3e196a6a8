// Paged KV cache layout: the one definition shared by the attention kernels
// (backend/cpu/attention.*) and the block pool (memory/).
//
// A kernel sees one layer: a K pool and a V pool of `num_pool_blocks`
// blocks. One layer's part of a block holds `block_size` consecutive token
// positions of one sequence for all KV heads, (num_kv_heads, block_size,
// head_dim) contiguous, and consecutive blocks are `block_stride` elements
// apart:
//
//   element (block b, kv head h, slot s, dim d) is at
//     b * block_stride + (h * block_size + s) * head_dim + d
//
// One head's slice of a block is `block_size * head_dim` contiguous elements
// (one head_dim row per slot: dot products stream it).
//
// block_stride = block_elems() (the default, 0) when a pool holds one layer.
// memory/'s KvBlockPool keeps all layers of a block together,
//   k: (num_blocks, num_layers, num_kv_heads, block_size_tokens, head_dim)
// so a layer's view there is k_pool = pool.block_k(0, layer) with
// block_stride = num_layers * block_elems(); same for v. Its KvDtype
// f32/f16/bf16 maps one to one onto DType.
//
// A sequence's block table maps logical block j (positions
// [j * block_size, (j + 1) * block_size)) to a pool block id. Position p lives
// in pool block block_table[p / block_size], slot p % block_size. Slots past
// the sequence length are never read.
// Thread-safety: plain data.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/backend/dtype.h"

namespace keel::backend {

struct KvLayout {
  int num_kv_heads = 0;
  int block_size = 0;  // token positions per block
  int head_dim = 0;
  DType dtype = DType::kF32;
  size_t block_stride = 0;  // elements between consecutive blocks; 0 = block_elems()

  // Elements in one layer's part of a block (all heads), and in one head's
  // slice of it.
  size_t block_elems() const {
    return static_cast<size_t>(num_kv_heads) * static_cast<size_t>(block_size) *
           static_cast<size_t>(head_dim);
  }
  size_t head_slice_elems() const {
    return static_cast<size_t>(block_size) * static_cast<size_t>(head_dim);
  }
  size_t block_bytes() const { return block_elems() * dtype_bytes(dtype); }
  size_t stride() const { return block_stride != 0 ? block_stride : block_elems(); }
  // Element offset of (block, kv_head, slot, 0).
  size_t offset(int64_t block, int kv_head, int slot) const {
    return static_cast<size_t>(block) * stride() +
           (static_cast<size_t>(kv_head) * static_cast<size_t>(block_size) +
            static_cast<size_t>(slot)) *
               static_cast<size_t>(head_dim);
  }
};

// Read-only view of one layer's K and V pools.
struct KvCacheView {
  const void* k_pool = nullptr;  // num_pool_blocks blocks of (num_kv_heads, block_size, head_dim), block_stride apart
  const void* v_pool = nullptr;  // same
  int64_t num_pool_blocks = 0;
  KvLayout layout;
};

// Writable view of one layer's K and V pools.
struct KvCacheMutView {
  void* k_pool = nullptr;  // num_pool_blocks blocks of (num_kv_heads, block_size, head_dim), block_stride apart
  void* v_pool = nullptr;  // same
  int64_t num_pool_blocks = 0;
  KvLayout layout;

  KvCacheView view() const { return {k_pool, v_pool, num_pool_blocks, layout}; }
};

}  // namespace keel::backend
