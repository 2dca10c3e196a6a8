// KvCacheShape: the dimensions of one paged KV cache, shared by the block
// pool and the capacity planner.
//
// One block holds K and V of `block_size_tokens` tokens for every layer:
//   bytes_per_block = 2 (K and V) * num_layers * num_kv_heads
//                     * block_size_tokens * head_dim * dtype_bytes
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string_view>

#include "keel/core/result.h"

namespace keel::memory {

enum class KvDtype { kF32, kF16, kBF16 };
uint64_t kv_dtype_bytes(KvDtype dtype);     // 4, 2, 2
std::string_view kv_dtype_name(KvDtype dtype);  // "f32", "f16", "bf16"

using BlockId = int32_t;

struct KvCacheShape {
  int num_layers = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size_tokens = 16;
  KvDtype dtype = KvDtype::kF32;

  // InvalidArgument naming the field if any dimension is < 1, or if one
  // block would be larger than 2^48 bytes (a sign of garbage dimensions).
  Status validate() const;
  // Valid only after validate() succeeded.
  uint64_t bytes_per_token() const;  // K and V, all layers
  uint64_t bytes_per_block() const { return bytes_per_token() * block_size_tokens; }
  // Blocks that hold `num_tokens` tokens: ceil(num_tokens / block_size_tokens).
  int64_t blocks_for_tokens(int64_t num_tokens) const {
    return (num_tokens + block_size_tokens - 1) / block_size_tokens;
  }
};

}  // namespace keel::memory
