// ThreadPool: bounded-wait, fork-safe data parallelism, in two modes.
//
// Concepts
// - Task mode: parallel_for(n, task, deadline) runs task(i) for every i in
//   [0, n) on the pool's workers. The caller only waits, so that a stalled
//   task can never hold the caller past its deadline. If the tasks are not
//   all finished by `deadline`, parallel_for stops handing out indices and
//   returns DeadlineExceeded, naming how many tasks were finished and how many
//   were still running. Tasks still running then finish in the background, so
//   a task must own (e.g. by shared_ptr) everything it touches. For work that
//   may block (the tokenizer's encode_batch).
// - Compute mode: run_chunks(n, chunk, deadline) runs chunk(i) for every i in
//   [0, n) with the *caller participating*: the caller and the pool's helper
//   workers claim indices from one atomic counter (dynamic hand-out), so a
//   call costs no thread hand-off when the helpers are busy or slow to wake.
//   For CPU kernel chunks, which never block. The callable is borrowed
//   (FunctionRef, no allocation), because run_chunks never returns while a
//   chunk runs: at the deadline no thread claims another chunk, the caller
//   waits for the chunks already running (bounded by one chunk's compute) and
//   returns DeadlineExceeded. Chunks that were never claimed never run. (A
//   chunk that blocks anyway holds its caller: a chunk touching the caller's
//   buffers cannot be abandoned.)
// - Threads. A pool of N = num_threads() threads starts N workers on first
//   use. Workers 0..N-2 are *helpers*: they take compute chunks and task-mode
//   tasks. Worker N-1 takes only task-mode tasks. So both modes get N-way
//   parallelism: compute mode = the caller + N-1 helpers (N = 1: the caller
//   alone, inline), task mode = N workers (the caller only waits).
// - Waking. A helper that saw a compute call spins for spin() (default 50 us,
//   KEEL_POOL_SPIN_US, set_spin) looking for the next one: `pause`, a
//   sched_yield every few microseconds, and it stops early once it finds it
//   was off its CPU for > 20 us (the CPU is contended: spinning would only
//   take time from the threads doing work). Then it sleeps on a condition
//   variable (timed, 200 ms poll). So back-to-back kernel calls find their
//   helpers awake and pay no wake-up (~0.2-0.5 us per call on a 2-vCPU VM,
//   vs 11-30 us for a parallel_for round trip); a call after an idle gap
//   wakes sleeping helpers with one notify (5-40 us there) and starts on its
//   chunks without waiting for them. The caller waiting for a helper's last
//   chunk spins the same way, then sleeps in 1 ms timed slices.
// - Compute calls are one at a time per pool. A compute call that finds
//   another one in progress (another thread, or a chunk calling run_chunks
//   on its own pool) runs all of its chunks on its own thread, in order, with
//   the same deadline checks: it never waits for the other call.
// - Every wait is bounded: by a deadline, by a bounded spin, or (the compute
//   caller waiting for claimed chunks) by one chunk's compute.
// - Fork safety: a pthread_atfork child handler bumps a process-wide fork
//   generation. A pool used in a child process notices the new generation and
//   builds fresh workers, fresh locks and a fresh compute slot; the parent's
//   state (whose mutexes may have been held by threads that do not exist in
//   the child) is abandoned, never touched. So the child can use the pool at
//   once, in either mode, even if the fork happened while the parent's
//   workers were mid-task or mid-chunk.
// Thread-safety: all methods may be called from any thread concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "keel/core/clock.h"
#include "keel/core/status.h"

namespace keel {

// A non-owning reference to a callable: two words, no allocation, cheap to
// copy. The callable must outlive every call through the reference (bind it
// to a named lambda or pass a temporary straight into a function call).
template <typename Sig>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
             !std::is_function_v<std::remove_reference_t<F>> &&
             std::is_invocable_r_v<R, std::remove_reference_t<F>&, Args...>)
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_(&invoke<std::remove_reference_t<F>>) {}

  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  template <typename F>
  static R invoke(void* obj, Args... args) {
    return std::invoke(*static_cast<F*>(obj), std::forward<Args>(args)...);
  }

  void* obj_;
  R (*call_)(void*, Args...);
};

class ThreadPool {
 public:
  using ChunkFn = FunctionRef<void(size_t)>;

  // A pool of `num_threads` (at least 1) threads; workers start lazily, on
  // first use (see "Threads" above).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The parallelism either mode gets: compute mode = caller + num_threads()-1
  // helpers; task mode = num_threads() workers.
  int num_threads() const { return num_threads_; }

  // Task mode (see above). Errors: DeadlineExceeded, Internal (a task threw).
  Status parallel_for(size_t n, std::function<void(size_t)> task, Deadline deadline);

  // Compute mode (see above): chunk(i) for i in [0, n), caller participating.
  // Returns only when no chunk of this call runs or will run. Errors:
  // DeadlineExceeded (some chunks never started; every started one finished),
  // Internal (a chunk threw; the other chunks still ran), InvalidArgument
  // (n >= 2^31). An already expired deadline runs nothing.
  Status run_chunks(size_t n, ChunkFn chunk, Deadline deadline);

  // How long a helper spins for the next compute call before sleeping.
  // 0 = sleep at once. Default 50 us, or KEEL_POOL_SPIN_US.
  void set_spin(std::chrono::microseconds spin);
  std::chrono::microseconds spin() const { return std::chrono::microseconds(spin_us_.load()); }

  // The process-wide pool, sized by KEEL_NUM_THREADS or the CPUs this process
  // may run on.
  static ThreadPool& global();
  // CPUs available to this process (affinity mask, cgroup quota), at least 1.
  static int available_cpus();

  // How many times this process's pools were rebuilt after a fork (tests).
  uint64_t rebuilds() const { return rebuilds_.load(); }

 private:
  struct State;
  State* state();  // current-generation state, rebuilt after fork
  Status run_chunks_inline(size_t n, ChunkFn chunk, Deadline deadline);

  const int num_threads_;
  std::atomic<int64_t> spin_us_;
  std::atomic<State*> state_{nullptr};
  std::atomic<uint64_t> rebuilds_{0};
};

}  // namespace keel
