// GuardedSink: a RequestSink wrapper that delivers the final output at most
// once and nothing after it, whoever ends the request first — the step
// thread, or the watchdog failing the requests of a stalled step while that
// thread is stuck (engine-internal).
// Thread-safety: on_output/on_final come from the step thread; fail() from
// the watchdog. fail() waits at most kLockWait for a step-thread call in
// progress (sinks never block, so that is enough; a sink that broke the
// contract is skipped rather than waited on).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "keel/engine/request_stream.h"

namespace keel::engine {

class GuardedSink final : public RequestSink {
 public:
  static constexpr std::chrono::milliseconds kLockWait{200};

  explicit GuardedSink(std::shared_ptr<RequestSink> inner) : inner_(std::move(inner)) {}

  void on_output(std::string_view text, std::span<const int32_t> token_ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done_) inner_->on_output(text, token_ids);
  }
  void on_final(RequestFinal final_info) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    done_ = true;
    inner_->on_final(std::move(final_info));
  }
  // Delivers `final_info` unless a final was delivered already; false if
  // it was, or the sink stayed busy for kLockWait.
  // (A try_lock loop rather than std::timed_mutex: libstdc++'s timed lock
  // uses pthread_mutex_clocklock, which GCC 12's TSan does not intercept.)
  bool fail(RequestFinal final_info) {
    std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
    const auto until = std::chrono::steady_clock::now() + kLockWait;
    while (!lock.try_lock()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (done_) return false;
    done_ = true;
    inner_->on_final(std::move(final_info));
    return true;
  }

 private:
  std::shared_ptr<RequestSink> inner_;
  std::mutex mu_;
  bool done_ = false;  // guarded by mu_
};

}  // namespace keel::engine
