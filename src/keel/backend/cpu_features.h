// CPU feature detection and the ISA choice for the CPU kernels.
//
// Concepts
// - CpuFeatures: what this CPU *and the OS* support (cpuid + xgetbv: AVX
//   state needs XCR0 bits 1-2, AVX-512 bits 5-7, AMX tiles bits 17-18).
// - Isa: one variant of the kernel table. Variants nest: kAvx512Bf16 needs
//   everything kAvx512 needs, which needs everything kAvx2 needs.
//     kScalar      plain C++ (the reference kernels), runs anywhere
//     kAvx2        AVX2 + FMA + F16C
//     kAvx512      + AVX512F/BW/VL/DQ
//     kAvx512Bf16  + AVX512_BF16 (vdpbf16ps for bf16 GEMM)
// - The default Isa is the best supported one, unless the environment
//   variable KEEL_CPU_ISA names another (scalar|avx2|avx512|avx512bf16), for
//   tests and benchmarks. Asking for an unsupported Isa is an error, never a
//   silent fallback, so a benchmark cannot measure the wrong variant.
// Thread-safety: all functions are safe to call concurrently; detection runs
// once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"

namespace keel::backend {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_bf16 = false;
  bool amx_bf16 = false;  // detected and reported; no AMX kernels yet

  std::string to_string() const;  // "avx2 fma f16c avx512f ..."
};

// The features of the CPU this process runs on (detected once).
const CpuFeatures& cpu_features();

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3 };

std::string_view isa_name(Isa isa);  // "scalar", "avx2", "avx512", "avx512bf16"
Result<Isa> parse_isa(std::string_view name);

bool isa_supported(Isa isa, const CpuFeatures& f);
// Every Isa supported here, from kScalar up (tests iterate over these).
std::vector<Isa> supported_isas();
// The best Isa supported here.
Isa best_isa();
// best_isa(), or KEEL_CPU_ISA if set. An unknown or unsupported name is an
// error that says which ISAs are available.
Result<Isa> default_isa();

}  // namespace keel::backend
