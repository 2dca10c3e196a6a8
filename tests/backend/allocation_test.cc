// The kernels' hot path allocates nothing: after one warm-up call per shape
// (which may grow a per-thread bf16 buffer when no scratch is passed),
// matmul on every ISA, weight type and GEMM precision, single-threaded and
// on a pool, makes no heap allocation. This executable replaces the global
// operator new to count.
#include <gtest/gtest.h>

#include <vector>

#include "backend_test_util.h"
#include "common/allocation_counter.h"
#include "keel/backend/cpu/kernels.h"
#include "keel/backend/cpu_features.h"
#include "keel/core/thread_pool.h"

namespace keel::backend {
namespace {

using testing::make_typed;
using testing::random_floats;

TEST(KernelAllocationTest, MatmulDoesNotAllocateAfterWarmUp) {
  struct Shape {
    int64_t n_tokens, k, n;
  };
  // GEMV, GEMM with one and with several K slices (f32 1024, bf16 2048).
  const Shape shapes[] = {{1, 896, 300}, {3, 640, 64}, {37, 896, 200}, {9, 4864, 40}};
  ThreadPool pool(2);
  for (Isa isa : supported_isas()) {
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      auto kernels = CpuKernels::create(isa, p);
      ASSERT_TRUE(kernels.ok()) << kernels.status().to_string();
      for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
        for (GemmPrecision prec : {GemmPrecision::kAuto, GemmPrecision::kF32, GemmPrecision::kBf16}) {
          kernels->set_gemm_precision(prec);
          for (const Shape& s : shapes) {
            const long before_inputs = keel::testing::allocations();
            const auto x = random_floats(static_cast<size_t>(s.n_tokens * s.k), 1);  // (T, k)
            ASSERT_GT(keel::testing::allocations(), before_inputs);  // the counter works
            const auto w = make_typed(random_floats(static_cast<size_t>(s.n * s.k), 2), dtype);
            std::vector<float> y(static_cast<size_t>(s.n_tokens * s.n));  // (T, n)
            std::vector<uint16_t> bf16(static_cast<size_t>(s.n_tokens * s.k));  // (T, k)
            const WeightView wv{w.data(), dtype, s.n, s.k};
            ASSERT_TRUE(kernels->matmul(x.data(), s.n_tokens, wv, nullptr, y.data(), bf16).ok());
            const long before = keel::testing::allocations();
            for (int rep = 0; rep < 3; ++rep) {
              ASSERT_TRUE(kernels->matmul(x.data(), s.n_tokens, wv, nullptr, y.data(), bf16).ok());
            }
            EXPECT_EQ(keel::testing::allocations() - before, 0)
                << isa_name(isa) << " " << dtype_name(dtype) << " "
                << gemm_precision_name(prec) << (p ? " pool" : " 1 thread") << " T=" << s.n_tokens
                << " k=" << s.k << " n=" << s.n;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace keel::backend
