#include "keel/backend/cpu/isa_kernels.h"

namespace keel::backend::cpu {

Result<const IsaKernels*> isa_kernels(Isa isa) {
  if (!isa_supported(isa, cpu_features())) {
    return FailedPreconditionError("CPU ISA {} is not supported here (cpu has: {})", isa_name(isa),
                                   cpu_features().to_string());
  }
  switch (isa) {
    case Isa::kScalar: return &scalar_kernels();
    case Isa::kAvx2: return &avx2_kernels();
    case Isa::kAvx512: return &avx512_kernels();
    case Isa::kAvx512Bf16: return &avx512_bf16_kernels();
  }
  return InternalError("unknown Isa value {}", static_cast<int>(isa));
}

}  // namespace keel::backend::cpu
