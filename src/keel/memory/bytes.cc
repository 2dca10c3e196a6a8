#include "keel/memory/bytes.h"

#include <fmt/format.h>

#include <array>
#include <cctype>

namespace keel::memory {
namespace {

constexpr std::string_view kForms =
    "expected a byte count such as 2GiB, 512MiB, 1.5G or 1000000 "
    "(units B, K/KiB, M/MiB, G/GiB, T/TiB are 1024-based; KB, MB, GB, TB are 1000-based)";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Multiplier for a unit suffix; 0 if unknown.
uint64_t unit_multiplier(std::string_view unit) {
  struct Unit {
    std::string_view name;
    uint64_t multiplier;
  };
  static constexpr std::array<Unit, 14> kUnits = {{
      {"", 1},
      {"B", 1},
      {"K", 1ull << 10}, {"KiB", 1ull << 10}, {"KB", 1000ull},
      {"M", 1ull << 20}, {"MiB", 1ull << 20}, {"MB", 1000ull * 1000},
      {"G", 1ull << 30}, {"GiB", 1ull << 30}, {"GB", 1000ull * 1000 * 1000},
      {"T", 1ull << 40}, {"TiB", 1ull << 40}, {"TB", 1000ull * 1000 * 1000 * 1000},
  }};
  for (const Unit& u : kUnits) {
    if (iequals(unit, u.name)) return u.multiplier;
  }
  return 0;
}

}  // namespace

Result<uint64_t> parse_bytes(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return InvalidArgumentError("empty memory size; {}", kForms);
  if (s.front() == '-') {
    return InvalidArgumentError("memory size '{}' is negative; {}", text, kForms);
  }
  if (s.front() == '+') s.remove_prefix(1);

  // Integer part, then an optional fraction; digits are accumulated exactly.
  __extension__ typedef unsigned __int128 u128;  // exact for digits * multiplier
  u128 whole = 0;
  size_t i = 0;
  size_t whole_digits = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++whole_digits) {
    whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
    if (whole > UINT64_MAX) {
      return InvalidArgumentError("memory size '{}' is larger than 2^64-1 bytes", text);
    }
  }
  u128 frac = 0;
  u128 frac_scale = 1;
  size_t frac_digits = 0;
  bool has_point = i < s.size() && s[i] == '.';
  if (has_point) {
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++frac_digits) {
      if (frac_digits < 18) {  // further digits cannot change a whole-byte result
        frac = frac * 10 + static_cast<unsigned>(s[i] - '0');
        frac_scale *= 10;
      }
    }
  }
  if (whole_digits == 0 && frac_digits == 0) {
    return InvalidArgumentError("memory size '{}' does not start with a number; {}", text, kForms);
  }
  std::string_view unit = trim(s.substr(i));
  uint64_t multiplier = unit_multiplier(unit);
  if (multiplier == 0) {
    return InvalidArgumentError("unknown unit '{}' in memory size '{}'; {}", unit, text, kForms);
  }
  if (multiplier == 1 && frac != 0) {
    return InvalidArgumentError(
        "memory size '{}' is a fraction of a byte; write whole bytes or add a unit such as MiB",
        text);
  }
  u128 bytes = whole * multiplier + frac * multiplier / frac_scale;
  if (bytes > UINT64_MAX) {
    return InvalidArgumentError("memory size '{}' is larger than 2^64-1 bytes", text);
  }
  return static_cast<uint64_t>(bytes);
}

std::string format_bytes(uint64_t bytes) {
  static constexpr std::array<std::string_view, 6> kUnits = {"KiB", "MiB", "GiB",
                                                             "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  // Switch unit once the value would print as 1024.00 or more.
  while (unit + 1 < kUnits.size() && value >= 1023.995) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.2f} {}", value, kUnits[unit]);
}

std::string format_count(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

}  // namespace keel::memory
