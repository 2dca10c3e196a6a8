#include "keel/tokenizer/models/serde_float.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace keel::tokenizer::models_internal {
namespace {

// 1e0 .. 1e308, each correctly rounded (as Rust's literal table).
const std::array<double, 309>& pow10_table() {
  static const std::array<double, 309> table = [] {
    std::array<double, 309> t{};
    for (int i = 0; i <= 308; ++i) t[static_cast<size_t>(i)] = std::strtod(fmt::format("1e{}", i).c_str(), nullptr);
    return t;
  }();
  return table;
}

}  // namespace

double serde_json_f64(double value) {
  if (!std::isfinite(value) || value == 0.0) return value;
  const bool negative = std::signbit(value);
  const std::string text = fmt::format("{}", std::fabs(value));  // shortest round-trip
  uint64_t significand = 0;
  int exponent = 0;
  bool overflow = false, after_point = false;
  size_t i = 0;
  for (; i < text.size() && text[i] != 'e'; ++i) {
    const char c = text[i];
    if (c == '.') {
      after_point = true;
      continue;
    }
    const auto digit = static_cast<uint64_t>(c - '0');
    if (overflow || significand > (UINT64_MAX - digit) / 10) {
      // serde drops digits that no longer fit (integer digits still scale).
      overflow = true;
      if (!after_point) ++exponent;
      continue;
    }
    significand = significand * 10 + digit;
    if (after_point) --exponent;
  }
  if (i < text.size()) exponent += std::atoi(text.c_str() + i + 1);
  const auto& pow10 = pow10_table();
  double f = static_cast<double>(significand);
  while (true) {
    const int abs_exp = exponent < 0 ? -exponent : exponent;
    if (abs_exp <= 308) {
      if (exponent >= 0) {
        f *= pow10[static_cast<size_t>(abs_exp)];
      } else {
        f /= pow10[static_cast<size_t>(abs_exp)];
      }
      break;
    }
    if (f == 0.0 || exponent >= 0) break;  // serde errors on overflow; keep the value
    f /= 1e308;
    exponent += 308;
  }
  return negative ? -f : f;
}

}  // namespace keel::tokenizer::models_internal
