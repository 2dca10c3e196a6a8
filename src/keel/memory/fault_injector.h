// FaultInjector: the hook that lets tests and chaos runs make a memory
// reservation fail at a named point ("KV pool", "workspace", "weights"), so
// that every out-of-memory path can be exercised on a laptop.
//
// MemoryBudget::reserve consults its injector (if any) before it accounts the
// bytes; a non-OK status from the injector is returned to the caller as is.
// Every device allocation goes through a budget reservation, so this one hook
// covers the KV pool, the workspace and weight loading.
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "keel/core/status.h"

namespace keel::memory {

class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  // Called before `bytes` are reserved for `what`. Non-OK makes it fail.
  virtual Status before_reserve(std::string_view what, uint64_t bytes) = 0;
};

// Fails reservations whose label contains `label_substring`: it lets
// `skip` matching calls through, then fails the next `fail_count` matching
// calls (or all later ones when fail_count < 0) with ResourceExhausted
// "injected fault: <what> (<bytes>)". Thread-safe.
class ScriptedFaultInjector final : public FaultInjector {
 public:
  ScriptedFaultInjector(std::string label_substring, int skip, int fail_count)
      : label_substring_(std::move(label_substring)), skip_(skip), fail_count_(fail_count) {}

  Status before_reserve(std::string_view what, uint64_t bytes) override;

  // How many reservations this injector failed so far.
  int num_injected() const {
    std::lock_guard<std::mutex> lock(mu_);
    return num_injected_;
  }

 private:
  const std::string label_substring_;
  mutable std::mutex mu_;
  int skip_;         // guarded by mu_
  int fail_count_;   // guarded by mu_; < 0 means unlimited
  int num_injected_ = 0;  // guarded by mu_
};

}  // namespace keel::memory
