#include "keel/backend/dtype.h"

#include "keel/backend/cpu/scalar_convert.h"

namespace keel::backend {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
  }
  return "?";
}

float f16_to_f32(uint16_t h) { return detail::scalar_f16_to_f32(h); }
uint16_t f32_to_f16(float f) { return detail::scalar_f32_to_f16(f); }
float bf16_to_f32(uint16_t b) { return detail::scalar_bf16_to_f32(b); }
uint16_t f32_to_bf16(float f) { return detail::scalar_f32_to_bf16(f); }

void convert_to_f32(const void* src, DType src_type, size_t n, float* dst) {
  switch (src_type) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = detail::scalar_f16_to_f32(s[i]);
      return;
    }
    case DType::kBF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = detail::scalar_bf16_to_f32(s[i]);
      return;
    }
  }
}

void convert_from_f32(const float* src, size_t n, DType dst_type, void* dst) {
  switch (dst_type) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = detail::scalar_f32_to_f16(src[i]);
      return;
    }
    case DType::kBF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = detail::scalar_f32_to_bf16(src[i]);
      return;
    }
  }
}

}  // namespace keel::backend
