// Test helper: runs one function per rank on its own thread and waits for
// all of them with a bound, so that no test can hang: past the bound the
// group is aborted (which ends every collective) and the test fails.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "keel/parallel/communicator.h"

namespace keel::parallel::testing {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// fn(rank, comm) on world_size threads; returns when all have returned.
// Aborts the group and fails the test if they take longer than `bound`.
inline void run_ranks(CommGroup& group, const std::function<void(int, Communicator&)>& fn,
                      std::chrono::milliseconds bound = std::chrono::milliseconds(60000)) {
  const int world = group.world_size();
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      fn(r, group.comm(r));
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, bound, [&] { return done == world; })) {
      ADD_FAILURE() << "ranks did not finish within " << bound.count() << " ms; aborting";
      group.abort(CancelledError("test bound passed"));
      // Collectives return within milliseconds of an abort.
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == world; })) {
        ADD_FAILURE() << "ranks still running 10 s after the abort: detaching";
        for (auto& t : threads) t.detach();
        return;
      }
    }
  }
  for (auto& t : threads) t.join();
}

// Bit-exact serial reference: out[i] = ((x0[i] + x1[i]) + x2[i]) + ...
inline std::vector<float> rank_order_sum(const std::vector<std::vector<float>>& inputs) {
  std::vector<float> out = inputs.at(0);
  for (size_t q = 1; q < inputs.size(); ++q) {
    for (size_t i = 0; i < out.size(); ++i) out[i] += inputs[q][i];
  }
  return out;
}

}  // namespace keel::parallel::testing
