#include "keel/backend/cpu_features.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <limits>

#include "keel/backend/cpu/isa_kernels.h"
#include "keel/backend/dtype.h"

namespace keel::backend {
namespace {

TEST(CpuFeatures, ParseIsaNames) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16}) {
    auto r = parse_isa(isa_name(isa));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, isa);
  }
  auto bad = parse_isa("sse9");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(CpuFeatures, SupportedIsasNestAndHaveTables) {
  const auto isas = supported_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::kScalar);
  EXPECT_EQ(best_isa(), isas.back());
  for (size_t i = 0; i < isas.size(); ++i) {
    EXPECT_EQ(static_cast<int>(isas[i]), static_cast<int>(i)) << "variants must nest";
    auto t = cpu::isa_kernels(isas[i]);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ((*t)->isa, isas[i]);
  }
  std::printf("cpu features: %s; best isa: %s\n", cpu_features().to_string().c_str(),
              std::string(isa_name(best_isa())).c_str());
}

TEST(CpuFeatures, UnsupportedIsaIsAnErrorNotAFallback) {
  CpuFeatures none;
  EXPECT_TRUE(isa_supported(Isa::kScalar, none));
  EXPECT_FALSE(isa_supported(Isa::kAvx2, none));
  CpuFeatures avx2_only;
  avx2_only.avx2 = avx2_only.fma = avx2_only.f16c = true;
  EXPECT_TRUE(isa_supported(Isa::kAvx2, avx2_only));
  EXPECT_FALSE(isa_supported(Isa::kAvx512, avx2_only));
  CpuFeatures bf16_without_base = avx2_only;
  bf16_without_base.avx512_bf16 = true;
  EXPECT_FALSE(isa_supported(Isa::kAvx512Bf16, bf16_without_base));
}

TEST(CpuFeatures, EnvOverride) {
  ASSERT_EQ(setenv("KEEL_CPU_ISA", "scalar", 1), 0);
  auto r = default_isa();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Isa::kScalar);
  ASSERT_EQ(setenv("KEEL_CPU_ISA", "nonsense", 1), 0);
  EXPECT_EQ(default_isa().status().code(), StatusCode::kInvalidArgument);
  if (!isa_supported(Isa::kAvx512Bf16, cpu_features())) {
    ASSERT_EQ(setenv("KEEL_CPU_ISA", "avx512bf16", 1), 0);
    EXPECT_EQ(default_isa().status().code(), StatusCode::kFailedPrecondition);
  }
  ASSERT_EQ(unsetenv("KEEL_CPU_ISA"), 0);
  ASSERT_TRUE(default_isa().ok());
  EXPECT_EQ(*default_isa(), best_isa());
}

TEST(DType, F16Conversions) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even: zero
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -26)), 0x0001);  // 0.75 ulp rounds up
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);  // tie to even (up)
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
  // Every finite f16 survives f16 -> f32 -> f16.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h) << h;
  }
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));
}

TEST(DType, Bf16Conversions) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie to even
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t b = 0; b < 0x10000; ++b) {
    if ((b & 0x7f80) == 0x7f80) continue;
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(static_cast<uint16_t>(b))), b) << b;
  }
}

}  // namespace
}  // namespace keel::backend
