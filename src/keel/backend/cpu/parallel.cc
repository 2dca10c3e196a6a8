#include "keel/backend/cpu/parallel.h"

#include <algorithm>

namespace keel::backend::cpu {

Status parallel_chunks(ThreadPool* pool, int64_t n, int64_t align, int64_t min_chunk,
                       FunctionRef<void(int64_t, int64_t)> fn, Deadline deadline) {
  if (n <= 0) return OkStatus();
  align = std::max<int64_t>(align, 1);
  min_chunk = std::max<int64_t>(min_chunk, 1);
  int64_t chunks = 1;
  if (pool != nullptr && pool->num_threads() > 1) {
    chunks = std::min<int64_t>(kChunksPerThread * pool->num_threads(), (n + min_chunk - 1) / min_chunk);
  }
  if (chunks <= 1) {
    fn(0, n);
    return OkStatus();
  }
  // Chunk size rounded up to `align`; recount chunks after rounding.
  int64_t per = (n + chunks - 1) / chunks;
  per = (per + align - 1) / align * align;
  chunks = (n + per - 1) / per;
  auto chunk = [&fn, per, n](size_t c) {
    const int64_t b = static_cast<int64_t>(c) * per;
    fn(b, std::min(n, b + per));
  };
  Status s = pool->run_chunks(static_cast<size_t>(chunks), chunk, deadline);
  if (!s.ok()) return s.with_context("CPU kernel");
  return OkStatus();
}

}  // namespace keel::backend::cpu
