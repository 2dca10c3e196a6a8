#include "keel/engine/scheduler.h"

#include <algorithm>
#include <optional>

namespace keel::engine {
namespace {

int64_t blocks_for(int64_t tokens, int block_size) {
  return tokens <= 0 ? 0 : (tokens + block_size - 1) / block_size;
}

std::optional<EndCause> end_cause(const SchedulerConfig& config, const SchedulerState& state,
                                  const SchedRequest& r, bool running) {
  if (r.cancelled) return EndCause::kCancelled;
  if (state.now >= r.deadline) return EndCause::kDeadline;
  if (!running && !r.started && state.now - r.arrival >= config.max_queue_wait) {
    return EndCause::kQueueWait;
  }
  return std::nullopt;
}

// The plan for one running request.
struct Slot {
  const SchedRequest* request = nullptr;
  bool preempted = false;
  bool planned = false;
  ScheduledChunk chunk;
};

class Planner {
 public:
  Planner(const SchedulerConfig& config, const SchedulerState& state, SchedulerOutput& out)
      : config_(config), state_(state), out_(out), free_(state.num_free_blocks),
        budget_(config.max_batch_tokens) {}

  void run() {
    out_.memory_pressure = state_.memory_pressure ||
                           (!state_.waiting.empty() && free_ < config_.pressure_watermark_blocks);
    end_requests();
    // Decodes first, then prefill chunks, each in admission order.
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (remaining(*slots_[i].request) == 1) plan_running(i);
    }
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (remaining(*slots_[i].request) > 1) plan_running(i);
    }
    for (size_t i : order_) {
      if (slots_[i].planned) out_.scheduled.push_back(slots_[i].chunk);
    }
    if (out_.preempted.empty()) admit();
    for (const ScheduledChunk& c : out_.scheduled) out_.num_scheduled_tokens += c.num_new_tokens;
    out_.num_free_blocks_after = free_;
  }

 private:
  static int64_t remaining(const SchedRequest& r) { return r.num_tokens - r.num_computed_tokens; }

  void end_requests() {
    for (const SchedRequest& r : state_.running) {
      if (auto cause = end_cause(config_, state_, r, /*running=*/true)) {
        out_.ended.push_back({r.seq, *cause, true});
        free_ += r.num_blocks;
      } else {
        Slot slot;
        slot.request = &r;
        slots_.push_back(slot);
      }
    }
    for (const SchedRequest& r : state_.waiting) {
      if (auto cause = end_cause(config_, state_, r, /*running=*/false)) {
        out_.ended.push_back({r.seq, *cause, false});
        free_ += r.num_blocks;
      } else {
        waiting_.push_back(&r);
      }
    }
  }

  // Preempts the most recently admitted running request that is not
  // preempted yet, unplanning it if needed; returns its index.
  size_t preempt_most_recent() {
    size_t v = slots_.size();
    while (v > 0 && slots_[v - 1].preempted) --v;
    Slot& s = slots_[v - 1];
    if (s.planned) {
      budget_ += s.chunk.num_new_tokens;
      free_ += s.chunk.num_new_blocks;
      s.planned = false;
    }
    free_ += s.request->num_blocks;
    s.preempted = true;
    out_.preempted.push_back(s.request->seq);
    return v - 1;
  }

  void plan_running(size_t i) {
    Slot& s = slots_[i];
    if (s.preempted || s.planned) return;
    const SchedRequest& r = *s.request;
    const int64_t n = std::min(remaining(r), budget_);
    if (n <= 0) return;
    const int64_t new_slots = std::max<int64_t>(0, r.num_computed_tokens + n - r.num_slot_tokens);
    const int64_t new_blocks = std::max<int64_t>(
        0, blocks_for(r.num_slot_tokens + new_slots, config_.block_size_tokens) - r.num_blocks);
    while (new_blocks > free_) {
      if (preempt_most_recent() == i) return;
    }
    free_ -= new_blocks;
    budget_ -= n;
    s.planned = true;
    s.chunk = ScheduledChunk{r.seq, n, new_slots, new_blocks, false, n == remaining(r)};
    order_.push_back(i);
  }

  void admit() {
    int64_t num_running = 0;
    for (const Slot& s : slots_) num_running += s.preempted ? 0 : 1;
    const int bs = config_.block_size_tokens;
    for (const SchedRequest* w : waiting_) {
      const SchedRequest& r = *w;
      if (num_running >= config_.max_running || budget_ <= 0) break;
      if (admission_blocks(config_, r) - r.num_blocks > free_) break;  // FCFS: no overtaking
      const int64_t new_slots = std::max<int64_t>(0, r.num_tokens - r.num_slot_tokens);
      const int64_t new_blocks =
          std::max<int64_t>(0, blocks_for(r.num_slot_tokens + new_slots, bs) - r.num_blocks);
      if (out_.memory_pressure && !r.started) {
        const int64_t fit = (free_ + r.num_blocks) * bs - r.num_tokens;
        const int64_t to = std::max({fit, r.min_new_tokens, int64_t{1}});
        if (to < r.max_new_tokens) {
          out_.shortened.push_back({r.seq, r.max_new_tokens, to, free_ + r.num_blocks});
        }
      }
      const int64_t n = std::min(remaining(r), budget_);
      free_ -= new_blocks;
      budget_ -= n;
      ++num_running;
      out_.scheduled.push_back(ScheduledChunk{r.seq, n, new_slots, new_blocks, true,
                                              n == remaining(r)});
    }
  }

  const SchedulerConfig& config_;
  const SchedulerState& state_;
  SchedulerOutput& out_;
  int64_t free_;
  int64_t budget_;
  std::vector<Slot> slots_;                   // running, not ended, admission order
  std::vector<const SchedRequest*> waiting_;  // waiting, not ended, queue order
  std::vector<size_t> order_;                 // slots in the order they were planned
};

}  // namespace

int64_t admission_blocks(const SchedulerConfig& config, const SchedRequest& r) {
  const int64_t may_generate =
      std::max<int64_t>(0, r.max_new_tokens - (r.num_tokens - r.num_prompt_tokens));
  const int64_t headroom = std::min(config.admission_headroom_tokens, may_generate);
  return blocks_for(r.num_tokens + headroom, config.block_size_tokens);
}

SchedulerOutput schedule(const SchedulerConfig& config, const SchedulerState& state) {
  SchedulerOutput out;
  Planner(config, state, out).run();
  return out;
}

}  // namespace keel::engine
