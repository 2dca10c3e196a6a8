#include "keel/backend/cpu/bandwidth.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "keel/backend/cpu_features.h"

namespace keel::backend {
namespace {

// XOR of the buffer into register accumulators: loads dominate. Written with
// intrinsics on purpose: a plain `uint64_t a[8]` loop compiled for the
// baseline ISA kept its accumulators on the stack, and the store-to-load
// chain capped the probe at ~33 GB/s on a machine that streams ~57 GB/s, so
// decode looked faster than the "physical" limit (bench/README.md).
__attribute__((target("avx2"))) uint64_t read_xor_avx2(const uint64_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {  // 128 bytes per iteration
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  uint64_t out = 0;
  for (; i < n; ++i) out ^= p[i];
  return out ^ static_cast<uint64_t>(_mm256_extract_epi64(a, 0)) ^
         static_cast<uint64_t>(_mm256_extract_epi64(a, 1)) ^
         static_cast<uint64_t>(_mm256_extract_epi64(a, 2)) ^
         static_cast<uint64_t>(_mm256_extract_epi64(a, 3));
}

// Fallback without AVX2: four scalar accumulators (registers, not an array).
uint64_t read_xor_scalar(const uint64_t* p, size_t n) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 ^= p[i];
    a1 ^= p[i + 1];
    a2 ^= p[i + 2];
    a3 ^= p[i + 3];
  }
  for (; i < n; ++i) a0 ^= p[i];
  return a0 ^ a1 ^ a2 ^ a3;
}

uint64_t read_xor(const uint64_t* p, size_t n) {
  static const bool avx2 = cpu_features().avx2;
  return avx2 ? read_xor_avx2(p, n) : read_xor_scalar(p, n);
}

}  // namespace

Result<BandwidthResult> measure_read_bandwidth(void* buffer, size_t bytes, int reps,
                                               ThreadPool* pool,
                                               std::chrono::milliseconds timeout) {
  if (buffer == nullptr || bytes < (size_t{1} << 20) || reps < 1) {
    return InvalidArgumentError("bandwidth probe needs a buffer of at least 1 MiB and reps >= 1");
  }
  const int threads = pool != nullptr ? pool->num_threads() : 1;
  const size_t words = bytes / sizeof(uint64_t);
  const size_t per = words / static_cast<size_t>(threads) / 8 * 8;
  // Shared with the tasks so a task still running after a deadline stays valid.
  struct Shared {
    const uint64_t* data;
    size_t per;
    std::atomic<uint64_t> sink{0};
  };
  auto shared = std::make_shared<Shared>();
  shared->data = static_cast<const uint64_t*>(buffer);
  shared->per = per;
  std::vector<double> gbs;
  // Repetition 0 is a warm-up (TLB, clocks): slower by up to 2x, not counted.
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (pool != nullptr) {
      Status s = pool->parallel_for(
          static_cast<size_t>(threads),
          [shared](size_t t) {
            shared->sink.fetch_xor(read_xor(shared->data + t * shared->per, shared->per));
          },
          Deadline::after(timeout));
      if (!s.ok()) return s.with_context("bandwidth probe");
    } else {
      shared->sink.fetch_xor(read_xor(shared->data, per));
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == 0) continue;
    gbs.push_back(static_cast<double>(per * static_cast<size_t>(threads) * sizeof(uint64_t)) / sec / 1e9);
  }
  std::sort(gbs.begin(), gbs.end());
  BandwidthResult out;
  out.best_gb_per_s = gbs.back();
  out.median_gb_per_s = gbs[gbs.size() / 2];
  out.threads = threads;
  out.bytes = per * static_cast<size_t>(threads) * sizeof(uint64_t);
  out.reps = reps;
  return out;
}

}  // namespace keel::backend
