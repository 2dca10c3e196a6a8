// Running code in a forked child with a bounded wait: a hung child is killed
// and reported, never left to hang the test.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

namespace keel::testing {

// Runs `body` in a child process; its return value is the exit code.
// Returns the exit code, 128+signal, or -1 if it did not finish in `timeout`.
inline int run_in_child(const std::function<int()>& body, std::chrono::milliseconds timeout) {
  pid_t pid = fork();
  if (pid < 0) return -2;
  if (pid == 0) _exit(body());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace keel::testing
