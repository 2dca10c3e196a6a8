// DType: element types of weights and KV cache, and scalar conversions.
//
// f16 is IEEE binary16; bf16 is the top half of an IEEE binary32. Both are
// stored as uint16_t. Conversions to f32 are exact; conversions from f32
// round to nearest even (NaN stays NaN, overflow becomes inf for f16).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keel::backend {

enum class DType : uint8_t { kF32 = 0, kF16 = 1, kBF16 = 2 };

constexpr size_t dtype_bytes(DType t) { return t == DType::kF32 ? 4 : 2; }
std::string_view dtype_name(DType t);  // "f32", "f16", "bf16"

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_bf16(float f);

// dst[i] = src[i] converted; src holds n elements of `src_type`.
void convert_to_f32(const void* src, DType src_type, size_t n, float* dst);
// dst holds n elements of `dst_type`.
void convert_from_f32(const float* src, size_t n, DType dst_type, void* dst);

}  // namespace keel::backend
