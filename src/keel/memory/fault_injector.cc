#include "keel/memory/fault_injector.h"

#include "keel/memory/bytes.h"

namespace keel::memory {

Status ScriptedFaultInjector::before_reserve(std::string_view what, uint64_t bytes) {
  if (what.find(label_substring_) == std::string_view::npos) return OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  if (skip_ > 0) {
    --skip_;
    return OkStatus();
  }
  if (fail_count_ == 0) return OkStatus();
  if (fail_count_ > 0) --fail_count_;
  ++num_injected_;
  return ResourceExhaustedError("injected fault: {} needs {}", what, format_bytes(bytes));
}

}  // namespace keel::memory
