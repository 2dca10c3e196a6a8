// Memory read bandwidth of this machine, measured the way a decode step
// reads weights: every thread of the pool streams its share of a buffer much
// larger than the caches. `keel bench` reports decode speed as a fraction of
// this ceiling (bytes read per token / bandwidth), measured in the same run.
// Thread-safety: uses the pool; the buffer is the caller's.
#pragma once

#include <cstddef>

#include "keel/core/result.h"
#include "keel/core/thread_pool.h"

namespace keel::backend {

struct BandwidthResult {
  double best_gb_per_s = 0;    // fastest repetition
  double median_gb_per_s = 0;  // median repetition
  int threads = 0;
  size_t bytes = 0;
  int reps = 0;
};

// Reads `bytes` of `buffer` (64-byte aligned, written before: untouched pages
// would read the shared zero page) `reps` times with all threads of `pool`
// (null: the calling thread only). Each repetition is bounded by `timeout`.
Result<BandwidthResult> measure_read_bandwidth(void* buffer, size_t bytes, int reps,
                                               ThreadPool* pool,
                                               std::chrono::milliseconds timeout =
                                                   std::chrono::milliseconds(30'000));

}  // namespace keel::backend
