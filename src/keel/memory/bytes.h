// Byte counts as people write them: parsing "2GiB" and printing "1.50 GiB".
//
// Units (case-insensitive, GNU coreutils convention):
//   B                      bytes
//   K, M, G, T             1024-based (same as KiB, MiB, GiB, TiB)
//   KiB, MiB, GiB, TiB     1024-based
//   KB, MB, GB, TB         1000-based (SI)
// A decimal fraction is allowed with a unit ("1.5G"); the result is rounded
// down to a whole byte. A bare number is a whole count of bytes.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "keel/core/result.h"

namespace keel::memory {

// "2GiB" -> 2147483648. InvalidArgument naming the input and the accepted
// forms for an empty string, a negative or malformed number, an unknown unit,
// a fractional byte count, or a value above 2^64-1.
Result<uint64_t> parse_bytes(std::string_view text);

// 1610612736 -> "1.50 GiB"; below 1 KiB, "512 B". Two decimals, 1024-based.
std::string format_bytes(uint64_t bytes);

// 8192 -> "8,192".
std::string format_count(uint64_t n);

}  // namespace keel::memory
