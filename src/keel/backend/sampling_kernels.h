// SamplingKernels: the per-row vector math of token sampling (argmax with
// validity check, temperature shift + exp + block sums, weights of one
// block), on the best ISA of this CPU.
//
// Contract
// - get() picks the table once per process (default_isa(): AVX-512, AVX2 or
//   scalar; KEEL_CPU_ISA overrides) and never fails: a CPU without SIMD gets the
//   scalar bodies (std::exp).
// - A weight is exp(p) of a processed logit p; it is 0 where p < -87
//   (e^-87 ~ 1.6e-38, so -inf has weight exactly 0) or where it is below
//   min_weight. SIMD lanes use a Cephes-style expf (within ~2 ulp of
//   std::exp); sums are per-vector in float, then in double across vectors.
// - shift_exp_block_sums() and exp_weights() give bit-identical weights for
//   the same processed logits when exp_weights() is called on a whole block
//   (same start, same length), so a walk of one block agrees with its sum up
//   to double rounding.
// Thread-safety: stateless after get(); calls on disjoint rows may run
// concurrently.
#pragma once

#include <cstdint>
#include <span>

#include "keel/backend/cpu_features.h"
#include "keel/core/result.h"

namespace keel::backend {
namespace cpu {
struct IsaKernels;
}

struct MaxScan {
  float max = 0;               // the largest value (-inf when every value is -inf)
  int64_t argmax = -1;         // its first index; -1 when every value is -inf
  int64_t first_invalid = -1;  // the first NaN or +inf; -1 when none (max/argmax unset otherwise)
};

class SamplingKernels {
 public:
  static const SamplingKernels& get();
  // The kernels of one ISA (tests); FailedPrecondition if this CPU lacks it.
  static Result<SamplingKernels> for_isa(Isa isa);
  Isa isa() const;

  MaxScan scan_max(std::span<const float> x) const;
  // In place x[i] = (x[i] - shift) / temperature; then block_sums[b] = the
  // sum of the weights of ids [b * block, (b + 1) * block). block is a
  // multiple of 16; block_sums holds ceil(x.size() / block) entries.
  void shift_exp_block_sums(std::span<float> x, float shift, float temperature,
                            float min_weight, int64_t block, std::span<double> block_sums) const;
  // w[i] = the weight of processed logit x[i] (w.size() == x.size()).
  void exp_weights(std::span<const float> x, float min_weight, std::span<float> w) const;

 private:
  explicit SamplingKernels(const cpu::IsaKernels* k) : k_(k) {}
  const cpu::IsaKernels* k_;
};

}  // namespace keel::backend
