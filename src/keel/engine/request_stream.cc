#include "keel/engine/request_stream.h"

#include <utility>

#include "keel/core/check.h"

namespace keel::engine {

std::string_view keel_reason_name(KeelReason reason) {
  switch (reason) {
    case KeelReason::kNone: return "";
    case KeelReason::kContextWindow: return "context_window";
    case KeelReason::kKvPool: return "kv_pool";
    case KeelReason::kMemoryPressure: return "memory_pressure";
    case KeelReason::kTimeout: return "timeout";
    case KeelReason::kCancelled: return "cancelled";
    case KeelReason::kError: return "error";
    case KeelReason::kQueueWait: return "queue_wait";
    case KeelReason::kShutdown: return "shutdown";
  }
  return "";
}

std::optional<RequestOutput> RequestStream::take_locked() {
  if (!has_pending_) return std::nullopt;
  RequestOutput out = std::move(pending_);
  pending_ = RequestOutput();
  has_pending_ = false;
  if (out.finished()) final_read_ = true;
  return out;
}

Result<RequestOutput> RequestStream::next(Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  if (final_read_) return OutOfRangeError("request {}: the final output was already read", id_);
  if (!cv_.wait_until(lock, deadline.at(), [&] { return has_pending_; })) {
    return DeadlineExceededError("request {}: no output before the deadline (still running)", id_);
  }
  return *take_locked();
}

std::optional<RequestOutput> RequestStream::try_next() {
  std::lock_guard<std::mutex> lock(mu_);
  return take_locked();
}

Result<RequestOutput> RequestStream::collect(Deadline deadline) {
  RequestOutput all;
  while (true) {
    KEEL_ASSIGN_OR_RETURN(RequestOutput part, next(deadline));
    all.text += part.text;
    all.token_ids.insert(all.token_ids.end(), part.token_ids.begin(), part.token_ids.end());
    if (part.finished()) {
      all.final_info = std::move(part.final_info);
      return all;
    }
  }
}

bool RequestStream::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void RequestStream::on_output(std::string_view text, std::span<const int32_t> token_ids) {
  if (text.empty() && token_ids.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    KEEL_CHECK(!closed_) << "request " << id_ << ": output pushed after close";
    pending_.text += text;
    pending_.token_ids.insert(pending_.token_ids.end(), token_ids.begin(), token_ids.end());
    has_pending_ = true;
  }
  cv_.notify_all();
}

void RequestStream::on_final(RequestFinal final_info) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    KEEL_CHECK(!closed_) << "request " << id_ << ": closed twice";
    closed_ = true;
    pending_.final_info = std::move(final_info);
    has_pending_ = true;
  }
  cv_.notify_all();
}

}  // namespace keel::engine
