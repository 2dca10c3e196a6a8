// See keel/backend/sampling_kernels.h.
#include "keel/backend/sampling_kernels.h"

#include "keel/backend/cpu/isa_kernels.h"
#include "keel/backend/cpu_features.h"
#include "keel/core/check.h"

namespace keel::backend {

const SamplingKernels& SamplingKernels::get() {
  static const SamplingKernels kernels = [] {
    const Result<Isa> isa = default_isa();
    Result<SamplingKernels> k = for_isa(isa.ok() ? *isa : Isa::kScalar);
    if (!k.ok()) k = for_isa(Isa::kScalar);
    KEEL_CHECK(k.ok()) << "the scalar kernels are always available";
    return *k;
  }();
  return kernels;
}

Result<SamplingKernels> SamplingKernels::for_isa(Isa isa) {
  KEEL_ASSIGN_OR_RETURN(const cpu::IsaKernels* k, cpu::isa_kernels(isa));
  return SamplingKernels(k);
}

Isa SamplingKernels::isa() const { return k_->isa; }

MaxScan SamplingKernels::scan_max(std::span<const float> x) const {
  MaxScan m;
  k_->scan_max(x.data(), static_cast<int64_t>(x.size()), &m.max, &m.argmax,
                    &m.first_invalid);
  return m;
}

void SamplingKernels::shift_exp_block_sums(std::span<float> x, float shift, float temperature,
                                           float min_weight, int64_t block,
                                           std::span<double> block_sums) const {
  const auto n = static_cast<int64_t>(x.size());
  KEEL_CHECK(block > 0 && block % 16 == 0) << "block " << block << " is not a multiple of 16";
  KEEL_CHECK(static_cast<int64_t>(block_sums.size()) >= (n + block - 1) / block)
      << "block_sums has " << block_sums.size() << " entries for " << n << " ids";
  k_->shift_exp_block_sums(x.data(), n, shift, temperature, min_weight, block,
                                block_sums.data());
}

void SamplingKernels::exp_weights(std::span<const float> x, float min_weight,
                                  std::span<float> w) const {
  KEEL_CHECK(w.size() == x.size()) << "weights " << w.size() << " for " << x.size() << " logits";
  k_->exp_weights(x.data(), static_cast<int64_t>(x.size()), min_weight, w.data());
}

}  // namespace keel::backend
