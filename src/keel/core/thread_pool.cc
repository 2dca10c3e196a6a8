#include "keel/core/thread_pool.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "keel/core/check.h"

namespace keel {
namespace {

std::atomic<uint64_t> g_fork_generation{0};

void on_fork_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

uint64_t fork_generation() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, &on_fork_child);
    return true;
  }();
  (void)registered;
  return g_fork_generation.load(std::memory_order_relaxed);
}

constexpr auto kIdlePoll = std::chrono::milliseconds(200);
constexpr auto kJoinTimeout = std::chrono::seconds(2);

// One parallel_for call. Shared by the caller and the workers that pick it up.
struct Job {
  std::function<void(size_t)> task;
  size_t n = 0;
  std::atomic<size_t> next{0};      // next index to hand out
  std::atomic<bool> abandoned{false};
  std::mutex mu;
  std::condition_variable cv;
  size_t finished = 0;  // guarded by mu
  size_t claimed = 0;   // guarded by mu: indices taken by anyone
  std::string error;    // guarded by mu: first task exception

  // Runs indices until none are left. Returns after its last claimed task.
  void work() {
    for (;;) {
      if (abandoned.load(std::memory_order_relaxed)) return;
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      {
        std::lock_guard<std::mutex> l(mu);
        ++claimed;
      }
      std::string err;
      try {
        task(i);
      } catch (const std::exception& e) {
        err = e.what();
      } catch (...) {
        err = "unknown exception";
      }
      std::lock_guard<std::mutex> l(mu);
      if (!err.empty() && error.empty()) error = std::move(err);
      if (++finished == n) cv.notify_all();
      else if (abandoned.load(std::memory_order_relaxed)) cv.notify_all();
    }
  }
};

}  // namespace

struct ThreadPool::State {
  uint64_t generation = 0;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Job>> queue;  // guarded by mu
  bool stop = false;                       // guarded by mu
  std::vector<std::thread> workers;
  std::atomic<int> live_workers{0};
  std::mutex exit_mu;
  std::condition_variable exit_cv;

  void worker_loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> l(mu);
        while (!stop && queue.empty()) cv.wait_for(l, kIdlePoll);
        if (stop) break;
        job = queue.front();
        // Leave the job queued while it has unclaimed indices so that other
        // workers join in; drop it once exhausted.
        if (job->next.load(std::memory_order_relaxed) >= job->n) {
          queue.pop_front();
          continue;
        }
      }
      job->work();
      std::lock_guard<std::mutex> l(mu);
      if (!queue.empty() && queue.front() == job) queue.pop_front();
    }
    std::lock_guard<std::mutex> l(exit_mu);
    live_workers.fetch_sub(1);
    exit_cv.notify_all();
  }
};

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {}

ThreadPool::~ThreadPool() {
  State* s = state_.load();
  if (s == nullptr) return;
  if (s->generation != fork_generation()) return;  // a parent's state: abandon
  {
    std::lock_guard<std::mutex> l(s->mu);
    s->stop = true;
  }
  s->cv.notify_all();
  bool all_exited;
  {
    std::unique_lock<std::mutex> l(s->exit_mu);
    all_exited = s->exit_cv.wait_for(l, kJoinTimeout, [&] { return s->live_workers.load() == 0; });
  }
  if (all_exited) {
    for (auto& t : s->workers) t.join();
    delete s;
  } else {
    // A task is stuck in a worker: never block process exit on it.
    for (auto& t : s->workers) t.detach();
  }
}

ThreadPool::State* ThreadPool::state() {
  const uint64_t gen = fork_generation();
  State* s = state_.load(std::memory_order_acquire);
  if (s != nullptr && s->generation == gen) return s;
  auto fresh = std::make_unique<State>();
  fresh->generation = gen;
  State* expected = s;
  if (!state_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
    return expected;  // another thread rebuilt first
  }
  if (s != nullptr) rebuilds_.fetch_add(1);
  // `s` (if any) belongs to the parent process: intentionally leaked.
  State* st = fresh.release();
  for (int i = 0; i < num_threads_; ++i) {
    st->live_workers.fetch_add(1);
    st->workers.emplace_back([st] { st->worker_loop(); });
  }
  return st;
}

Status ThreadPool::parallel_for(size_t n, std::function<void(size_t)> task, Deadline deadline) {
  if (n == 0) return OkStatus();
  auto job = std::make_shared<Job>();
  job->task = std::move(task);
  job->n = n;
  State* s = state();
  {
    std::lock_guard<std::mutex> l(s->mu);
    s->queue.push_back(job);
  }
  if (n == 1) s->cv.notify_one();
  else s->cv.notify_all();
  std::unique_lock<std::mutex> l(job->mu);
  bool done = job->cv.wait_until(l, deadline.at(), [&] { return job->finished == n; });
  if (!done) {
    job->abandoned.store(true);
    const size_t finished = job->finished, running = job->claimed - job->finished;
    return DeadlineExceededError(
        "thread pool: {} of {} tasks finished before the deadline; {} still running, {} not "
        "started (a task is stalled or the pool is overloaded)",
        finished, n, running, n - job->claimed);
  }
  if (!job->error.empty()) return InternalError("thread pool task threw: {}", job->error);
  return OkStatus();
}

int ThreadPool::available_cpus() {
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  // cgroup v2 CPU quota: "max 100000" or "200000 100000".
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (f >> quota >> period && quota != "max") {
    const long q = std::atol(quota.c_str()), p = std::atol(period.c_str());
    if (q > 0 && p > 0) n = std::min<int>(n, static_cast<int>((q + p - 1) / p));
  }
  return n < 1 ? 1 : n;
}

ThreadPool& ThreadPool::global() {
  static ThreadPool* pool = [] {
    int n = available_cpus();
    if (const char* env = std::getenv("KEEL_NUM_THREADS"); env && std::atoi(env) > 0) {
      n = std::atoi(env);
    }
    return new ThreadPool(n);  // never destroyed: usable until process exit
  }();
  return *pool;
}

}  // namespace keel
