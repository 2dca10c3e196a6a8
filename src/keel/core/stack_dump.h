// Stacks of every thread of this process, for diagnostic reports (the
// engine watchdog's stall report).
//
// How: each thread is sent SIGURG in turn (tgkill); the handler records its
// stack with Boost.Stacktrace's async-signal-safe safe_dump_to(); the
// caller waits for it at most `per_thread_timeout` and symbolizes it
// outside the handler (function names need the executable linked with
// -rdynamic; keel's targets are). A thread that does not answer in time
// (blocked signals, stuck in the kernel) is listed as such.
// Thread-safety: dumps are serialized on an internal mutex; callable from
// any thread. SIGURG is taken over by keel (nothing else in keel uses it).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace keel {

// "thread 1234 (keel): \n 0# ...\n 1# ..." for up to `max_threads` threads
// (this one included, listed first), with `max_frames` frames each.
std::string dump_all_thread_stacks(
    std::chrono::milliseconds per_thread_timeout = std::chrono::milliseconds(200),
    size_t max_threads = 64, size_t max_frames = 48);

}  // namespace keel
