#include "keel/core/stack_dump.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/stacktrace.hpp>
#include <dirent.h>
#include <fmt/format.h>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

namespace keel {
namespace {

constexpr size_t kMaxFrames = 128;

// Shared with the signal handler: the thread asked to dump itself, and
// where it writes. Only one dump runs at a time (g_mu).
std::atomic<pid_t> g_target{0};
std::atomic<bool> g_done{false};
std::atomic<size_t> g_num_frames{0};
void* g_frames[kMaxFrames];

pid_t current_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

void on_sigurg(int) {
  const int saved_errno = errno;
  if (current_tid() == g_target.load(std::memory_order_acquire)) {
    const size_t n = boost::stacktrace::safe_dump_to(0, g_frames, sizeof(g_frames));
    g_num_frames.store(n, std::memory_order_relaxed);
    g_done.store(true, std::memory_order_release);
  }
  errno = saved_errno;
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_sigurg;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGURG, &sa, nullptr);
  });
}

std::vector<pid_t> list_threads() {
  std::vector<pid_t> tids;
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return tids;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    tids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  ::closedir(d);
  return tids;
}

std::string thread_name(pid_t tid) {
  std::ifstream in(fmt::format("/proc/self/task/{}/comm", tid));
  std::string name;
  std::getline(in, name);
  return name;
}

std::string format_frames(const boost::stacktrace::stacktrace& st, size_t max_frames) {
  std::string out;
  size_t i = 0;
  for (const boost::stacktrace::frame& f : st) {
    if (i == max_frames) {
      out += fmt::format("  ... {} more frames\n", st.size() - max_frames);
      break;
    }
    std::string name = f.name();
    if (name.empty()) name = fmt::format("{}", f.address());
    out += fmt::format("  {:2}# {}\n", i++, name);
  }
  return out;
}

}  // namespace

std::string dump_all_thread_stacks(std::chrono::milliseconds per_thread_timeout,
                                   size_t max_threads, size_t max_frames) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  install_handler();
  const pid_t self = current_tid();
  std::string out = fmt::format("thread {} ({}, dumping):\n", self, thread_name(self));
  out += format_frames(boost::stacktrace::stacktrace(), max_frames);
  std::vector<pid_t> tids = list_threads();
  size_t listed = 1;
  for (pid_t tid : tids) {
    if (tid == self) continue;
    if (listed == max_threads) {
      out += fmt::format("... {} more threads not shown\n", tids.size() - listed);
      break;
    }
    ++listed;
    g_done.store(false, std::memory_order_relaxed);
    g_num_frames.store(0, std::memory_order_relaxed);
    g_target.store(tid, std::memory_order_release);
    const std::string name = thread_name(tid);
    if (::syscall(SYS_tgkill, ::getpid(), tid, SIGURG) != 0) continue;  // it exited
    const auto until = std::chrono::steady_clock::now() + per_thread_timeout;
    while (!g_done.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (!g_done.load(std::memory_order_acquire)) {
      out += fmt::format("thread {} ({}): no answer within {} ms (signals blocked or stuck in "
                         "the kernel)\n",
                         tid, name, per_thread_timeout.count());
      g_target.store(0, std::memory_order_release);
      continue;
    }
    g_target.store(0, std::memory_order_release);
    const size_t n = g_num_frames.load(std::memory_order_relaxed);
    out += fmt::format("thread {} ({}):\n", tid, name);
    out += format_frames(boost::stacktrace::stacktrace::from_dump(g_frames, n * sizeof(void*)),
                         max_frames);
  }
  return out;
}

}  // namespace keel
