// DType: element types of tensors as safetensors names them.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "keel/core/result.h"

namespace keel::model {

enum class DType {
  kBool, kU8, kI8, kI16, kU16, kI32, kU32, kI64, kU64,
  kF8E4M3, kF8E5M2, kF16, kBF16, kF32, kF64,
};

// "F32" -> kF32, following the safetensors spelling ("BOOL", "U8", "I8",
// "I16", "U16", "I32", "U32", "I64", "U64", "F8_E4M3", "F8_E5M2", "F16",
// "BF16", "F32", "F64"). InvalidArgument listing the known names otherwise.
Result<DType> parse_dtype(std::string_view name);
std::string_view dtype_name(DType dtype);
uint64_t dtype_size_bytes(DType dtype);

}  // namespace keel::model
