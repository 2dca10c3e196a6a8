// ThreadPool: bounded-wait, fork-safe data parallelism.
//
// Concepts
// - parallel_for(n, task, deadline) runs task(i) for every i in [0, n) on the
//   pool's workers. The caller only waits, so that a stalled task can never
//   hold the caller past its deadline.
// - Every wait is bounded: if the tasks are not all finished by `deadline`,
//   parallel_for stops handing out indices and returns DeadlineExceeded,
//   naming how many tasks were finished and how many were still running.
//   Tasks still running then finish in the background, so a task must own
//   (e.g. by shared_ptr) everything it touches.
// - Fork safety: a pthread_atfork child handler bumps a process-wide fork
//   generation. A pool used in a child process notices the new generation and
//   builds fresh workers and fresh locks; the parent's state (whose mutexes
//   may have been held by threads that do not exist in the child) is
//   abandoned, never touched. So the child can use the pool at once, even if
//   the fork happened while the parent's workers were mid-task.
// Thread-safety: all methods may be called from any thread concurrently.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>

#include "keel/core/clock.h"
#include "keel/core/status.h"

namespace keel {

class ThreadPool {
 public:
  // Starts `num_threads` workers (at least 1) lazily, on first use.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  Status parallel_for(size_t n, std::function<void(size_t)> task, Deadline deadline);

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

  const int num_threads_;
  std::atomic<State*> state_{nullptr};
  std::atomic<uint64_t> rebuilds_{0};
};

}  // namespace keel
