#include "keel/core/thread_pool.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
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

// Compute mode's claim word: (call number << 32) | next chunk index. The
// index part kClosed means "this call takes no more claims". Packing the call
// number in lets a claim (a compare-exchange) succeed only for the call whose
// index it read, so a helper that is slow to act never takes a chunk from the
// next call (it would have to stall between its read and its claim for
// exactly 2^32 calls to be fooled).
constexpr uint64_t kIndexMask = 0xFFFF'FFFFull;
constexpr uint64_t kClosed = kIndexMask;
constexpr size_t kMaxChunks = size_t{1} << 31;
constexpr int64_t kDefaultSpinUs = 50;
// Spin iterations between clock reads, and between sched_yield calls (a
// `pause` is ~10-140 cycles depending on the CPU: 16 of them are about a
// microsecond or less, 64 a few microseconds).
constexpr unsigned kSpinClockEvery = 16;
constexpr unsigned kSpinYieldEvery = 64;
// A spinning thread that finds it was off its CPU this long between two clock
// reads (a yield ran another thread, or it was preempted) stops spinning.
constexpr int64_t kPreemptedNs = 20'000;
// The compute caller, waiting for chunks that helpers are running, sleeps in
// slices this long (woken early by the last chunk).
constexpr auto kDoneWaitSlice = std::chrono::milliseconds(1);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

int64_t to_ns(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
int64_t now_ns() { return to_ns(std::chrono::steady_clock::now()); }

// A bounded spin: `pause`, a clock read every kSpinClockEvery steps and a
// sched_yield every kSpinYieldEvery. It ends at `until_ns`, or early when the
// thread was off its CPU for more than kPreemptedNs: the CPU is contended
// (another thread wanted it), so spinning on would only take time from the
// threads doing work, ours or another process's.
class Spinner {
 public:
  explicit Spinner(int64_t until_ns) : until_ns_(until_ns), last_ns_(now_ns()) {}
  // One step; false once the spin is over.
  bool step() {
    cpu_relax();
    if (++steps_ % kSpinClockEvery != 0) return true;
    if (steps_ % kSpinYieldEvery == 0) sched_yield();
    const int64_t t = now_ns();
    if (t >= until_ns_ || t - last_ns_ > kPreemptedNs) return false;
    last_ns_ = t;
    return true;
  }

 private:
  const int64_t until_ns_;
  int64_t last_ns_;
  unsigned steps_ = 0;
};

int64_t default_spin_us() {
  if (const char* env = std::getenv("KEEL_POOL_SPIN_US"); env && *env) {
    const long v = std::atol(env);
    return std::clamp<long>(v, 0, 10'000);
  }
  return kDefaultSpinUs;
}

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
  int helpers = 0;                 // workers 0..helpers-1 take compute chunks
  std::atomic<int64_t> spin_ns{0};

  // ---- task mode (parallel_for) and sleeping ----
  std::mutex mu;
  std::condition_variable cv;         // the task-only worker sleeps here
  std::condition_variable helper_cv;  // helpers sleep here
  std::deque<std::shared_ptr<Job>> queue;  // guarded by mu
  std::atomic<size_t> queued{0};           // queue.size(), read without mu by spinners
  std::atomic<bool> stop{false};           // written under mu
  std::atomic<int> sleeping_helpers{0};

  // ---- compute mode (run_chunks): one call at a time ----
  std::atomic<bool> compute_busy{false};     // held by the current compute caller
  uint32_t call_number = 0;                  // owned by the compute_busy holder
  std::atomic<uint64_t> claim{kClosed};      // see kIndexMask
  std::atomic<const ChunkFn*> chunk_fn{nullptr};  // the caller's, valid while a claim can succeed
  std::atomic<size_t> chunk_n{0};
  std::atomic<int64_t> chunk_deadline_ns{0};
  std::atomic<size_t> chunks_done{0};        // chunks of this call finished
  std::atomic<bool> caller_waiting{false};   // the caller sleeps on done_cv
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::atomic<bool> chunk_failed{false};
  std::mutex error_mu;
  std::string chunk_error;  // guarded by error_mu: first chunk exception

  std::vector<std::thread> workers;
  std::atomic<int> live_workers{0};
  std::mutex exit_mu;
  std::condition_variable exit_cv;

  // An open compute call has chunks left to claim (before its deadline).
  bool compute_open() const {
    const uint64_t i = claim.load(std::memory_order_seq_cst) & kIndexMask;
    return i != kClosed && i < chunk_n.load(std::memory_order_relaxed) &&
           now_ns() < chunk_deadline_ns.load(std::memory_order_relaxed);
  }

  // Claims one chunk of the open compute call (none once the call is closed,
  // exhausted or past its deadline).
  bool claim_chunk(size_t* index) {
    uint64_t w = claim.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t i = w & kIndexMask;
      // chunk_n / chunk_deadline_ns are at least as new as `w` (acquire); if
      // newer (the call closed meanwhile), the compare-exchange fails.
      if (i == kClosed || i >= chunk_n.load(std::memory_order_relaxed)) return false;
      if (now_ns() >= chunk_deadline_ns.load(std::memory_order_relaxed)) return false;
      if (claim.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        *index = static_cast<size_t>(i);
        return true;
      }
    }
  }

  // Runs a claimed chunk. The caller does not return (and so `chunk_fn`
  // stays valid) until chunks_done counts it.
  void run_chunk(size_t index) {
    const ChunkFn* fn = chunk_fn.load(std::memory_order_relaxed);
    try {
      (*fn)(index);
    } catch (const std::exception& e) {
      record_error(e.what());
    } catch (...) {
      record_error("unknown exception");
    }
    chunks_done.fetch_add(1, std::memory_order_seq_cst);
    if (caller_waiting.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> l(done_mu);
      done_cv.notify_one();
    }
  }

  void record_error(const char* what) {
    std::lock_guard<std::mutex> l(error_mu);
    if (chunk_error.empty()) chunk_error = what;
    chunk_failed.store(true, std::memory_order_relaxed);
  }

  // The compute caller waits for `claimed` chunks to finish: a bounded spin,
  // then timed sleeps. Bounded by one chunk's compute (chunks never block).
  void wait_chunks(size_t claimed) {
    Spinner spin(now_ns() + spin_ns.load(std::memory_order_relaxed));
    do {
      if (chunks_done.load(std::memory_order_acquire) == claimed) return;
    } while (spin.step());
    caller_waiting.store(true, std::memory_order_seq_cst);
    {
      std::unique_lock<std::mutex> l(done_mu);
      while (chunks_done.load(std::memory_order_seq_cst) != claimed) {
        done_cv.wait_for(l, kDoneWaitSlice);
      }
    }
    caller_waiting.store(false, std::memory_order_relaxed);
  }

  void wake_helpers(size_t wanted) {
    { std::lock_guard<std::mutex> l(mu); }  // a helper past its check is now waiting
    if (wanted >= static_cast<size_t>(helpers)) {
      helper_cv.notify_all();
    } else {
      for (size_t k = 0; k < wanted; ++k) helper_cv.notify_one();
    }
  }

  // Takes and runs task-mode work, if any. Returns whether it ran some.
  bool run_queued() {
    if (queued.load(std::memory_order_acquire) == 0) return false;
    std::shared_ptr<Job> job;
    {
      std::lock_guard<std::mutex> l(mu);
      while (!queue.empty()) {
        // Leave a job queued while it has unclaimed indices so that other
        // workers join in; drop it once exhausted.
        if (queue.front()->next.load(std::memory_order_relaxed) < queue.front()->n) {
          job = queue.front();
          break;
        }
        queue.pop_front();
        queued.store(queue.size(), std::memory_order_release);
      }
    }
    if (job == nullptr) return false;
    job->work();
    std::lock_guard<std::mutex> l(mu);
    if (!queue.empty() && queue.front() == job) {
      queue.pop_front();
      queued.store(queue.size(), std::memory_order_release);
    }
    return true;
  }

  // A helper spins until `until_ns` for new work. Returns true if work (or
  // stop) appeared.
  bool spin_for_work(int64_t until_ns) const {
    Spinner spin(until_ns);
    do {
      if (stop.load(std::memory_order_relaxed) || compute_open() ||
          queued.load(std::memory_order_relaxed) != 0) {
        return true;
      }
    } while (spin.step());
    return false;
  }

  void sleep_until_work(bool helper) {
    std::unique_lock<std::mutex> l(mu);
    if (!helper) {
      if (!stop.load() && queue.empty()) cv.wait_for(l, kIdlePoll);
      return;
    }
    // Announce, then check (the compute caller publishes, then reads
    // sleeping_helpers): either the check sees the call or the caller wakes us.
    sleeping_helpers.fetch_add(1, std::memory_order_seq_cst);
    if (!stop.load() && queue.empty() && !compute_open()) helper_cv.wait_for(l, kIdlePoll);
    sleeping_helpers.fetch_sub(1, std::memory_order_seq_cst);
  }

  void worker_loop(int index) {
    const bool helper = index < helpers;
    uint32_t seen_call = 0;
    int64_t spin_until = 0;
    for (;;) {
      if (stop.load(std::memory_order_acquire)) break;
      if (helper) {
        // Any compute call seen since the last look (run here or not) means
        // calls are coming: keep spinning for the next one.
        const uint32_t call = static_cast<uint32_t>(claim.load(std::memory_order_relaxed) >> 32);
        if (call != seen_call) {
          seen_call = call;
          spin_until = now_ns() + spin_ns.load(std::memory_order_relaxed);
        }
        size_t i = 0;
        bool ran = false;
        while (claim_chunk(&i)) {
          run_chunk(i);
          ran = true;
        }
        if (ran) {
          spin_until = now_ns() + spin_ns.load(std::memory_order_relaxed);
          continue;
        }
      }
      if (run_queued()) continue;
      if (helper && now_ns() < spin_until && spin_for_work(spin_until)) continue;
      sleep_until_work(helper);
    }
    std::lock_guard<std::mutex> l(exit_mu);
    live_workers.fetch_sub(1);
    exit_cv.notify_all();
  }
};

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(num_threads < 1 ? 1 : num_threads), spin_us_(default_spin_us()) {}

void ThreadPool::set_spin(std::chrono::microseconds spin) {
  const int64_t us = std::max<int64_t>(spin.count(), 0);
  spin_us_.store(us);
  State* s = state_.load(std::memory_order_acquire);
  if (s != nullptr && s->generation == fork_generation()) s->spin_ns.store(us * 1000);
}

ThreadPool::~ThreadPool() {
  State* s = state_.load();
  if (s == nullptr) return;
  if (s->generation != fork_generation()) return;  // a parent's state: abandon
  {
    std::lock_guard<std::mutex> l(s->mu);
    s->stop.store(true);
  }
  s->cv.notify_all();
  s->helper_cv.notify_all();
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
  fresh->helpers = num_threads_ - 1;
  fresh->spin_ns.store(spin_us_.load() * 1000);
  State* expected = s;
  if (!state_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
    return expected;  // another thread rebuilt first
  }
  if (s != nullptr) rebuilds_.fetch_add(1);
  // `s` (if any) belongs to the parent process: intentionally leaked.
  State* st = fresh.release();
  st->spin_ns.store(spin_us_.load() * 1000);  // a set_spin racing with the rebuild
  for (int i = 0; i < num_threads_; ++i) {
    st->live_workers.fetch_add(1);
    st->workers.emplace_back([st, i] { st->worker_loop(i); });
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
    s->queued.store(s->queue.size(), std::memory_order_release);
  }
  // Any worker may take a task: wake the task-only worker and the helpers.
  if (n == 1) {
    s->cv.notify_one();
    s->helper_cv.notify_one();
  } else {
    s->cv.notify_all();
    s->helper_cv.notify_all();
  }
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

Status ThreadPool::run_chunks_inline(size_t n, ChunkFn chunk, Deadline deadline) {
  std::string error;
  for (size_t i = 0; i < n; ++i) {
    if (deadline.expired()) {
      return DeadlineExceededError(
          "thread pool: deadline passed after {} of {} chunks; the other {} were not started "
          "(a chunk ran long or the machine is overloaded)",
          i, n, n - i);
    }
    try {
      chunk(i);
    } catch (const std::exception& e) {
      if (error.empty()) error = e.what();
    } catch (...) {
      if (error.empty()) error = "unknown exception";
    }
  }
  if (!error.empty()) return InternalError("thread pool chunk threw: {}", error);
  return OkStatus();
}

Status ThreadPool::run_chunks(size_t n, ChunkFn chunk, Deadline deadline) {
  if (n == 0) return OkStatus();
  if (n >= kMaxChunks) {
    return InvalidArgumentError("thread pool: run_chunks takes fewer than 2^31 chunks, got {}", n);
  }
  if (n == 1 || num_threads_ == 1) return run_chunks_inline(n, chunk, deadline);
  State* s = state();
  // One compute call at a time; a second one (another thread, or a chunk
  // calling back into its pool) runs on its own thread rather than wait.
  if (s->compute_busy.exchange(true, std::memory_order_acquire)) {
    return run_chunks_inline(n, chunk, deadline);
  }
  // Publish the call. No claim of an earlier call can succeed any more (it
  // was closed), and all of its chunks have finished.
  s->chunk_fn.store(&chunk, std::memory_order_relaxed);
  s->chunk_n.store(n, std::memory_order_relaxed);
  s->chunk_deadline_ns.store(to_ns(deadline.at()), std::memory_order_relaxed);
  s->chunks_done.store(0, std::memory_order_relaxed);
  const uint64_t call = uint64_t{++s->call_number} << 32;
  s->claim.store(call, std::memory_order_seq_cst);
  if (s->sleeping_helpers.load(std::memory_order_seq_cst) > 0) s->wake_helpers(n - 1);

  // Participate until nothing is left to claim (or the deadline passed).
  size_t i = 0;
  while (s->claim_chunk(&i)) s->run_chunk(i);
  // Close: from here no claim succeeds; `claimed` chunks were handed out.
  const uint64_t closed_at = s->claim.exchange(call | kClosed, std::memory_order_acq_rel);
  const size_t claimed = static_cast<size_t>(closed_at & kIndexMask);
  s->wait_chunks(claimed);

  Status result = OkStatus();
  if (claimed < n) {
    result = DeadlineExceededError(
        "thread pool: deadline passed after {} of {} chunks; the other {} were not started "
        "(a chunk ran long or the machine is overloaded)",
        claimed, n, n - claimed);
  } else if (s->chunk_failed.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> l(s->error_mu);
    result = InternalError("thread pool chunk threw: {}", s->chunk_error);
  }
  if (s->chunk_failed.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> l(s->error_mu);
    s->chunk_error.clear();
    s->chunk_failed.store(false, std::memory_order_relaxed);
  }
  s->compute_busy.store(false, std::memory_order_release);
  return result;
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
