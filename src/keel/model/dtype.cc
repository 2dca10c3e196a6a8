#include "keel/model/dtype.h"

#include <array>

namespace keel::model {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  uint64_t size_bytes;
};

constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::kBool, "BOOL", 1},   {DType::kU8, "U8", 1},         {DType::kI8, "I8", 1},
    {DType::kI16, "I16", 2},     {DType::kU16, "U16", 2},       {DType::kI32, "I32", 4},
    {DType::kU32, "U32", 4},     {DType::kI64, "I64", 8},       {DType::kU64, "U64", 8},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},   {DType::kF32, "F32", 4},       {DType::kF64, "F64", 8},
}};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& i : kDTypes) {
    if (i.dtype == dtype) return i;
  }
  return kDTypes[0];  // unreachable: every enumerator is listed
}

}  // namespace

Result<DType> parse_dtype(std::string_view name) {
  for (const DTypeInfo& i : kDTypes) {
    if (i.name == name) return i.dtype;
  }
  return InvalidArgumentError(
      "unknown dtype \"{}\"; known: BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F8_E4M3, "
      "F8_E5M2, F16, BF16, F32, F64", name);
}

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

uint64_t dtype_size_bytes(DType dtype) { return info(dtype).size_bytes; }

}  // namespace keel::model
