#include "keel/backend/cpu_features.h"

#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define KEEL_X86 1
#endif

namespace keel::backend {
namespace {

#ifdef KEEL_X86
uint64_t read_xcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  // xgetbv with ecx=0; encoded as bytes so no -mxsave is needed.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(1, 0, a, b, c, d);
  const bool osxsave = (c >> 27) & 1;
  const bool fma = (c >> 12) & 1;
  const bool f16c = (c >> 29) & 1;
  const bool avx = (c >> 28) & 1;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  if (!os_avx) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned leaf7_ebx = b;
  const unsigned leaf7_edx = d;
  f.avx2 = (leaf7_ebx >> 5) & 1;
  f.fma = fma;
  f.f16c = f16c;
  if (os_avx512) {
    f.avx512f = (leaf7_ebx >> 16) & 1;
    f.avx512dq = (leaf7_ebx >> 17) & 1;
    f.avx512bw = (leaf7_ebx >> 30) & 1;
    f.avx512vl = (leaf7_ebx >> 31) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = (a >> 5) & 1;
  }
  if (os_amx) f.amx_bf16 = (leaf7_edx >> 22) & 1;
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

std::string CpuFeatures::to_string() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512_bf16, "avx512_bf16");
  add(amx_bf16, "amx_bf16");
  return s.empty() ? "none" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Bf16: return "avx512bf16";
  }
  return "?";
}

Result<Isa> parse_isa(std::string_view name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16}) {
    if (name == isa_name(isa)) return isa;
  }
  return InvalidArgumentError("unknown CPU ISA '{}': use scalar, avx2, avx512 or avx512bf16", name);
}

bool isa_supported(Isa isa, const CpuFeatures& f) {
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512: return avx512;
    case Isa::kAvx512Bf16: return avx512 && f.avx512_bf16;
  }
  return false;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16}) {
    if (isa_supported(isa, cpu_features())) out.push_back(isa);
  }
  return out;
}

Isa best_isa() { return supported_isas().back(); }

Result<Isa> default_isa() {
  const char* env = std::getenv("KEEL_CPU_ISA");
  if (env == nullptr || *env == '\0') return best_isa();
  KEEL_ASSIGN_OR_RETURN(Isa isa, parse_isa(env));
  if (!isa_supported(isa, cpu_features())) {
    std::string have;
    for (Isa s : supported_isas()) have += fmt::format("{}{}", have.empty() ? "" : ", ", isa_name(s));
    return FailedPreconditionError("KEEL_CPU_ISA={} is not supported by this CPU ({}); supported: {}",
                                   env, cpu_features().to_string(), have);
  }
  return isa;
}

}  // namespace keel::backend
