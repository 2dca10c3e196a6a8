// schedule(): the continuous-batching policy, as a pure function of the
// engine's state (no model, no clock reads, no I/O), so it can be tested step
// by step against tables of expected state.
//
// One scheduling model (vLLM v1): every request has num_tokens (prompt +
// generated so far) and num_computed_tokens (those in its KV cache). A step
// moves each scheduled request's num_computed_tokens toward num_tokens, within
// a budget of max_batch_tokens tokens per step; prefill chunks and decode
// tokens share one forward call. When a chunk reaches num_tokens the step
// yields logits and the engine samples the next token (num_tokens + 1).
//
// The rules, in order (README.md has the rationale):
//  1. End: a cancelled request, one past its deadline, and a waiting request
//     that never started and waited max_queue_wait or longer are ended; their
//     blocks count as free for the rest of the plan.
//  2. Running, decodes first, then prefill chunks, each in admission order:
//     n = min(num_tokens - num_computed_tokens, budget left); the blocks the
//     chunk needs beyond those held must be free, else the most recently
//     admitted running request is preempted (recompute: all its blocks freed,
//     back to the front of the waiting queue) until they are; a victim already
//     planned this step is unplanned. If the request itself is the most recent
//     one, it is preempted instead.
//  3. Admission (only if nothing was preempted this step), FCFS from the front
//     of the waiting queue, stopping at the first request that does not fit:
//     room in max_running and the budget, and free blocks for ALL of its
//     num_tokens plus headroom for its first decode tokens
//     (min(admission_headroom_tokens, tokens it may still generate)). Its
//     block table is grown to num_tokens at once (the first chunk may be
//     shorter), so a prefilling request never needs blocks again and
//     admission tells the truth about memory.
//  4. Memory pressure (the external flag, or free blocks below
//     pressure_watermark_blocks with requests waiting, at the start of the
//     step): a request admitted for the first time gets max_new_tokens
//     lowered to what the free blocks hold after its prompt (never below
//     min_new_tokens or 1).
// Thread-safety: a pure function.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "keel/core/clock.h"

namespace keel::engine {

struct SchedulerConfig {
  int64_t max_batch_tokens = 2048;  // token budget of one step
  int64_t max_running = 256;        // sequences one step may hold (max logit rows)
  int block_size_tokens = 16;
  int64_t admission_headroom_tokens = 16;  // decode tokens admission reserves blocks for
  int64_t pressure_watermark_blocks = 0;   // see rule 4
  std::chrono::milliseconds max_queue_wait{std::chrono::seconds(60)};
};

// What the scheduler sees of one request.
struct SchedRequest {
  uint64_t seq = 0;                  // the engine's key, echoed in the output
  int64_t num_prompt_tokens = 0;
  int64_t num_tokens = 0;            // prompt + generated
  int64_t num_computed_tokens = 0;   // in the KV cache
  int64_t num_slot_tokens = 0;       // token slots its blocks cover (BlockTable::num_tokens)
  int64_t num_blocks = 0;            // blocks it holds
  int64_t max_new_tokens = 1;        // current limit on generated tokens
  int64_t min_new_tokens = 0;
  SteadyTime arrival{};
  SteadyTime deadline = SteadyTime::max();
  bool cancelled = false;
  bool started = false;  // admitted before (a preempted request): no queue-wait end, no shortening
};

struct SchedulerState {
  std::vector<SchedRequest> running;  // admission order, oldest first
  std::vector<SchedRequest> waiting;  // queue order, front first
  int64_t num_free_blocks = 0;
  bool memory_pressure = false;  // the external flag
  SteadyTime now{};
};

struct ScheduledChunk {
  uint64_t seq = 0;
  int64_t num_new_tokens = 0;       // tokens from num_computed_tokens on
  int64_t num_new_slot_tokens = 0;  // grow the block table by this many tokens first
  int64_t num_new_blocks = 0;       // blocks that growth allocates
  bool admitted = false;            // moved from waiting to running this step
  bool wants_logits = false;        // the chunk reaches num_tokens: sample after it
};

enum class EndCause : uint8_t { kCancelled, kDeadline, kQueueWait };

struct EndedRequest {
  uint64_t seq = 0;
  EndCause cause = EndCause::kCancelled;
  bool was_running = false;
};

struct ShortenedRequest {
  uint64_t seq = 0;
  int64_t from_max_new_tokens = 0;
  int64_t to_max_new_tokens = 0;
  int64_t num_free_blocks = 0;  // free when it was admitted, before its prompt's blocks
};

struct SchedulerOutput {
  std::vector<ScheduledChunk> scheduled;  // the batch, in order
  std::vector<uint64_t> preempted;        // in preemption order (most recent first)
  std::vector<EndedRequest> ended;
  std::vector<ShortenedRequest> shortened;
  int64_t num_scheduled_tokens = 0;
  int64_t num_free_blocks_after = 0;  // once ended/preempted are freed and chunks allocated
  bool memory_pressure = false;       // judged at the start of the step (rule 4)
};

SchedulerOutput schedule(const SchedulerConfig& config, const SchedulerState& state);

// The blocks a request must find free to be admitted (rule 3).
int64_t admission_blocks(const SchedulerConfig& config, const SchedRequest& request);

}  // namespace keel::engine
