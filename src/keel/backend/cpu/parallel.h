// parallel_chunks: split a range into a few large chunks on a ThreadPool.
//
// Kernels are called once per layer, so the split is coarse: at most
// kChunksPerThread * pool->num_threads() chunks, each at least `min_chunk`
// items, boundaries on multiples of `align`. A few chunks per thread (handed
// out dynamically by the pool) keep one descheduled thread on a shared
// machine from holding the whole call. One chunk (small work, or no pool)
// runs on the calling thread with no pool round trip at all.
//
// Lifetime: ThreadPool::parallel_for may return on its deadline while tasks
// still run. Kernel chunks touch caller-owned buffers, so on a deadline this
// function marks the call cancelled (chunks not yet started return at once)
// and then waits for the chunks already running to finish. That wait is
// bounded by one chunk's compute: kernel chunks never block or wait.
// Thread-safety: safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>

#include "keel/core/clock.h"
#include "keel/core/status.h"
#include "keel/core/thread_pool.h"

namespace keel::backend::cpu {

inline constexpr int64_t kChunksPerThread = 4;

// Runs fn(begin, end) over a partition of [0, n).
Status parallel_chunks(ThreadPool* pool, int64_t n, int64_t align, int64_t min_chunk,
                       const std::function<void(int64_t, int64_t)>& fn, Deadline deadline);

}  // namespace keel::backend::cpu
