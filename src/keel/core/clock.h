// Clock and Deadline: every wait in keel is bounded by a Deadline, and engine
// code reads time through an injectable Clock so tests can use a fake one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace keel {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime now() const = 0;
  // The process-wide real clock.
  static const Clock& real();
};

// A clock tests move by hand. Thread-safe.
class FakeClock final : public Clock {
 public:
  SteadyTime now() const override {
    return SteadyTime(std::chrono::nanoseconds(ns_.load()));
  }
  void advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
};

// A point in (real, steady) time after which a wait gives up.
class Deadline {
 public:
  static Deadline after(std::chrono::nanoseconds d) {
    return Deadline(std::chrono::steady_clock::now() + d);
  }
  static Deadline after_ms(int64_t ms) { return after(Millis(ms)); }
  explicit Deadline(SteadyTime at) : at_(at) {}

  SteadyTime at() const { return at_; }
  bool expired() const { return std::chrono::steady_clock::now() >= at_; }
  Millis remaining() const {
    auto r = std::chrono::duration_cast<Millis>(at_ - std::chrono::steady_clock::now());
    return r.count() < 0 ? Millis(0) : r;
  }

 private:
  SteadyTime at_;
};

}  // namespace keel
