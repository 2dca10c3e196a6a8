#include "keel/backend/cpu/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace keel::backend {
namespace {

// XOR of 8 independent lanes: no floating-point ordering, so the compiler
// vectorises it at the baseline ISA; loads dominate (one XOR per 8 bytes).
uint64_t read_xor(const uint64_t* p, size_t n) {
  uint64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) a[j] ^= p[i + static_cast<size_t>(j)];
  }
  return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7];
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
  for (int r = 0; r < reps; ++r) {
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
