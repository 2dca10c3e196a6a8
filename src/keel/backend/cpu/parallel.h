// parallel_chunks: split a range into a few large chunks on a ThreadPool.
//
// Kernels are called once per layer, so the split is coarse: at most
// kChunksPerThread * pool->num_threads() chunks, each at least `min_chunk`
// items, boundaries on multiples of `align`. A few chunks per thread (handed
// out dynamically) keep one descheduled thread on a shared machine from
// holding the whole call. One chunk (small work, or no pool, or a 1-thread
// pool) runs on the calling thread with no pool round trip at all.
//
// Several chunks run in the pool's compute mode (ThreadPool::run_chunks): the
// calling thread runs chunks too, alongside num_threads() - 1 helper workers
// that spin briefly between calls, so back-to-back kernel calls cost ~1 us of
// dispatch (see backend/README.md "Threading"). `fn` is borrowed, never
// copied or allocated: run_chunks returns only when no chunk runs any more.
// On the deadline no further chunk starts, the chunks already running finish
// (bounded by one chunk's compute: kernel chunks never block or wait), and
// the call returns DeadlineExceeded; `fn`'s output is then incomplete.
// Thread-safety: safe to call concurrently (concurrent calls on one pool: one
// gets the helpers, the others run their chunks on their own thread).
#pragma once

#include <cstdint>

#include "keel/core/clock.h"
#include "keel/core/status.h"
#include "keel/core/thread_pool.h"

namespace keel::backend::cpu {

inline constexpr int64_t kChunksPerThread = 4;

// Runs fn(begin, end) over a partition of [0, n). `fn` must not block.
Status parallel_chunks(ThreadPool* pool, int64_t n, int64_t align, int64_t min_chunk,
                       FunctionRef<void(int64_t, int64_t)> fn, Deadline deadline);

}  // namespace keel::backend::cpu
