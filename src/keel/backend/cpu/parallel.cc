#include "keel/backend/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

namespace keel::backend::cpu {
namespace {

struct CallState {
  std::atomic<int> running{0};
  std::atomic<bool> cancelled{false};
};

}  // namespace

Status parallel_chunks(ThreadPool* pool, int64_t n, int64_t align, int64_t min_chunk,
                       const std::function<void(int64_t, int64_t)>& fn, Deadline deadline) {
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
  auto state = std::make_shared<CallState>();
  const std::function<void(int64_t, int64_t)>* f = &fn;
  auto task = [state, f, per, n](size_t c) {
    // Announce first, then check: the caller sets `cancelled` and then waits
    // for `running` to drain, so a chunk either sees the flag or is waited for.
    state->running.fetch_add(1);
    if (!state->cancelled.load()) {
      const int64_t b = static_cast<int64_t>(c) * per;
      (*f)(b, std::min(n, b + per));
    }
    state->running.fetch_sub(1);
  };
  Status s = pool->parallel_for(static_cast<size_t>(chunks), task, deadline);
  if (!s.ok()) {
    state->cancelled.store(true);
    while (state->running.load() != 0) std::this_thread::yield();
    return s.with_context("CPU kernel");
  }
  return OkStatus();
}

}  // namespace keel::backend::cpu
