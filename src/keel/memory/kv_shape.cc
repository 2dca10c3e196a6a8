#include "keel/memory/kv_shape.h"

namespace keel::memory {

uint64_t kv_dtype_bytes(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::kF32: return 4;
    case KvDtype::kF16: return 2;
    case KvDtype::kBF16: return 2;
  }
  return 0;
}

std::string_view kv_dtype_name(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::kF32: return "f32";
    case KvDtype::kF16: return "f16";
    case KvDtype::kBF16: return "bf16";
  }
  return "unknown";
}

Status KvCacheShape::validate() const {
  struct Field {
    const char* name;
    int value;
  };
  for (const Field& f : {Field{"num_layers", num_layers}, Field{"num_kv_heads", num_kv_heads},
                         Field{"head_dim", head_dim},
                         Field{"block_size_tokens", block_size_tokens}}) {
    if (f.value < 1) {
      return InvalidArgumentError("KV cache shape: {} is {}; it must be at least 1", f.name,
                                  f.value);
    }
  }
  constexpr uint64_t kMaxBlockBytes = 1ull << 48;
  uint64_t bytes = 2 * kv_dtype_bytes(dtype);
  for (int dim : {num_layers, num_kv_heads, head_dim, block_size_tokens}) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes) ||
        bytes > kMaxBlockBytes) {
      return InvalidArgumentError(
          "KV cache shape: one block of {} layers x {} KV heads x {} tokens x head_dim {} is "
          "more than 2^48 bytes; check the model config",
          num_layers, num_kv_heads, block_size_tokens, head_dim);
    }
  }
  return OkStatus();
}

uint64_t KvCacheShape::bytes_per_token() const {
  return 2 * static_cast<uint64_t>(num_layers) * static_cast<uint64_t>(num_kv_heads) *
         static_cast<uint64_t>(head_dim) * kv_dtype_bytes(dtype);
}

}  // namespace keel::memory
