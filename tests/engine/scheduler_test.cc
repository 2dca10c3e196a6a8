// schedule() step by step against tables of expected state, with no model,
// no clock and no pool: a small simulator applies each plan the way the
// engine does (grow block tables, advance num_computed_tokens, sample one
// token when a chunk reaches the end, finish at max_new_tokens).
//
// Plan notation, one string per step:
//   "A+8!"  A was admitted and runs 8 tokens      "A+1"   A runs 1 token
//   "-B"    B was preempted                       "xC:deadline"  C ended
//   "~D:40" D's max_new_tokens shortened to 40    "| free 3"  free blocks after the step
#include "keel/engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace keel::engine {
namespace {

using std::chrono::milliseconds;

std::string name(uint64_t seq) { return std::string(1, static_cast<char>('A' + seq - 1)); }

const char* cause_name(EndCause c) {
  switch (c) {
    case EndCause::kCancelled: return "cancelled";
    case EndCause::kDeadline: return "deadline";
    case EndCause::kQueueWait: return "queue_wait";
  }
  return "?";
}

class Sim {
 public:
  Sim(SchedulerConfig config, int64_t num_blocks) : config_(config), free_(num_blocks) {}

  // Queues request `seq` (1 = A) with a prompt of `prompt` tokens.
  SchedRequest& add(uint64_t seq, int64_t prompt, int64_t max_new, int64_t min_new = 0) {
    SchedRequest r;
    r.seq = seq;
    r.num_prompt_tokens = prompt;
    r.num_tokens = prompt;
    r.max_new_tokens = max_new;
    r.min_new_tokens = min_new;
    r.arrival = now_;
    waiting_.push_back(r);
    return waiting_.back();
  }
  SchedRequest* find(uint64_t seq) {
    for (auto* list : {&running_, &waiting_}) {
      for (SchedRequest& r : *list) {
        if (r.seq == seq) return &r;
      }
    }
    return nullptr;
  }
  void advance(milliseconds d) { now_ += d; }
  void set_pressure(bool on) { pressure_ = on; }
  void hold_blocks(int64_t n) { free_ -= n; }  // blocks held outside the scheduler
  int64_t free_blocks() const { return free_; }
  const std::vector<uint64_t>& finished() const { return finished_; }

  // One step: schedule, check the plan's own invariants, apply, describe.
  std::string step() {
    SchedulerState st{running_, waiting_, free_, pressure_, now_};
    const SchedulerOutput out = schedule(config_, st);
    std::string s;
    auto add_word = [&](const std::string& w) { s += (s.empty() ? "" : " ") + w; };
    for (const ScheduledChunk& c : out.scheduled) {
      add_word(name(c.seq) + "+" + std::to_string(c.num_new_tokens) + (c.admitted ? "!" : ""));
    }
    for (uint64_t p : out.preempted) add_word("-" + name(p));
    for (const EndedRequest& e : out.ended) add_word("x" + name(e.seq) + ":" + cause_name(e.cause));
    for (const ShortenedRequest& sh : out.shortened) {
      add_word("~" + name(sh.seq) + ":" + std::to_string(sh.to_max_new_tokens));
    }
    EXPECT_LE(out.num_scheduled_tokens, config_.max_batch_tokens);
    apply(out);
    EXPECT_EQ(free_, out.num_free_blocks_after) << s;
    EXPECT_GE(free_, 0) << s;
    EXPECT_LE(static_cast<int64_t>(running_.size()), config_.max_running) << s;
    finish_done();
    return s + " | free " + std::to_string(free_);
  }

 private:
  static int64_t blocks_for(int64_t tokens, int bs) { return (tokens + bs - 1) / bs; }

  void apply(const SchedulerOutput& out) {
    auto take = [](std::vector<SchedRequest>& list, uint64_t seq) {
      auto it = std::find_if(list.begin(), list.end(), [&](auto& r) { return r.seq == seq; });
      SchedRequest r = *it;
      list.erase(it);
      return r;
    };
    for (const EndedRequest& e : out.ended) {
      SchedRequest r = take(e.was_running ? running_ : waiting_, e.seq);
      free_ += r.num_blocks;
    }
    for (uint64_t p : out.preempted) {
      SchedRequest r = take(running_, p);
      free_ += r.num_blocks;
      r.num_blocks = r.num_slot_tokens = r.num_computed_tokens = 0;
      waiting_.insert(waiting_.begin(), r);
    }
    for (const ShortenedRequest& sh : out.shortened) find(sh.seq)->max_new_tokens = sh.to_max_new_tokens;
    for (const ScheduledChunk& c : out.scheduled) {
      if (c.admitted) {
        SchedRequest r = take(waiting_, c.seq);
        r.started = true;
        running_.push_back(r);
      }
      SchedRequest& r = *find(c.seq);
      r.num_slot_tokens += c.num_new_slot_tokens;
      r.num_blocks += c.num_new_blocks;
      EXPECT_EQ(r.num_blocks, blocks_for(r.num_slot_tokens, config_.block_size_tokens));
      free_ -= c.num_new_blocks;
      r.num_computed_tokens += c.num_new_tokens;
      EXPECT_LE(r.num_computed_tokens, r.num_slot_tokens);
      EXPECT_EQ(c.wants_logits, r.num_computed_tokens == r.num_tokens);
      if (c.wants_logits) ++r.num_tokens;  // the engine samples a token
    }
  }

  void finish_done() {
    std::erase_if(running_, [&](const SchedRequest& r) {
      if (r.num_tokens - r.num_prompt_tokens < r.max_new_tokens) return false;
      free_ += r.num_blocks;
      finished_.push_back(r.seq);
      return true;
    });
  }

  SchedulerConfig config_;
  int64_t free_;
  bool pressure_ = false;
  SteadyTime now_{};
  std::vector<SchedRequest> running_;
  std::vector<SchedRequest> waiting_;
  std::vector<uint64_t> finished_;
};

SchedulerConfig config(int64_t budget, int block_size, int64_t headroom = 0, int64_t max_running = 8) {
  SchedulerConfig c;
  c.max_batch_tokens = budget;
  c.block_size_tokens = block_size;
  c.admission_headroom_tokens = headroom;
  c.max_running = max_running;
  c.max_queue_wait = milliseconds(1000);
  return c;
}

void expect_steps(Sim& sim, const std::vector<std::string>& table) {
  for (size_t i = 0; i < table.size(); ++i) EXPECT_EQ(sim.step(), table[i]) << "step " << i + 1;
}

TEST(SchedulerTest, ChunkedPrefillThenDecodeWithinTheBudget) {
  Sim sim(config(/*budget=*/8, /*block=*/4), /*blocks=*/16);
  sim.add(1, /*prompt=*/10, /*max_new=*/3);
  sim.add(2, 3, 2);
  expect_steps(sim, {
      "A+8! | free 13",       // A's whole prompt gets blocks (3) at once; budget spent
      "A+2 B+3! | free 12",   // A's last chunk samples; B admitted
      "A+1 B+1 | free 13",    // decodes in the blocks held; B's second token ends it
      "A+1 | free 16",        // A's third token ends it
      " | free 16",
  });
  EXPECT_EQ(sim.finished(), (std::vector<uint64_t>{2, 1}));
}

TEST(SchedulerTest, DecodesComeBeforePrefillChunks) {
  Sim sim(config(/*budget=*/4, /*block=*/4), 32);
  sim.add(1, 2, 4);
  expect_steps(sim, {"A+2! | free 31"});
  sim.add(2, 9, 1);
  expect_steps(sim, {
      "A+1 B+3! | free 28",  // A's decode first, then B takes the rest of the budget
      "A+1 B+3 | free 28",
      "A+1 B+3 | free 32",   // B's last chunk samples its one token; A is done too
  });
}

TEST(SchedulerTest, PreemptsTheMostRecentlyAdmittedAndResumesIt) {
  Sim sim(config(/*budget=*/16, /*block=*/2), /*blocks=*/4);
  sim.add(1, 3, 4);
  sim.add(2, 3, 4);
  expect_steps(sim, {
      "A+3! B+3! | free 0",
      "A+1 B+1 | free 0",    // position 3 is still in each one's second block
      "A+1 -B | free 1",     // A needs a third block: B (admitted last) gives its two back
      "A+1 | free 4",        // B does not fit yet; A's fourth token ends it
      "B+5! | free 1",       // B resumes: prompt + 2 generated tokens prefilled again
      "B+1 | free 4",
  });
  EXPECT_EQ(sim.finished(), (std::vector<uint64_t>{1, 2}));
}

TEST(SchedulerTest, TheRequestItselfIsPreemptedWhenItIsTheMostRecent) {
  Sim sim(config(16, 2), 4);
  sim.add(1, 3, 3);
  sim.add(2, 4, 3);
  expect_steps(sim, {
      "A+3! B+4! | free 0",
      "A+1 -B | free 2",  // B's own decode needs a third block: B is the most recent
      "A+1 | free 4",
      "B+5! | free 1",
      "B+1 | free 4",
  });
  EXPECT_EQ(sim.finished(), (std::vector<uint64_t>{1, 2}));
}

TEST(SchedulerTest, NoOvertakingAtTheHeadOfTheQueue) {
  Sim sim(config(64, 4), /*blocks=*/8);
  sim.add(1, 16, 8);  // 4 blocks
  expect_steps(sim, {"A+16! | free 4"});
  sim.add(2, 20, 4);  // 5 blocks: does not fit while A runs
  sim.add(3, 2, 1);   // would fit, but must not overtake B
  expect_steps(sim, {"A+1 | free 3", "A+1 | free 3"});
}

TEST(SchedulerTest, AdmissionReservesHeadroomForTheFirstDecodeTokens) {
  Sim sim(config(64, 4, /*headroom=*/8), /*blocks=*/5);
  sim.add(1, 8, 20);  // 2 blocks for the prompt, 2 more of headroom
  sim.add(2, 5, 20);  // 13 tokens = 4 blocks: only 3 free after A
  expect_steps(sim, {"A+8! | free 3", "A+1 | free 2"});
  // With no headroom B is admitted at once (and would soon be preempted).
  Sim eager(config(64, 4, 0), 5);
  eager.add(1, 8, 20);
  eager.add(2, 5, 20);
  expect_steps(eager, {"A+8! B+5! | free 1"});
}

TEST(SchedulerTest, MaxRunningLimitsAdmissions) {
  Sim sim(config(64, 4, 0, /*max_running=*/2), 32);
  sim.add(1, 2, 2);
  sim.add(2, 2, 2);
  sim.add(3, 2, 2);
  expect_steps(sim, {"A+2! B+2! | free 30", "A+1 B+1 | free 32", "C+2! | free 31"});
}

TEST(SchedulerTest, CancelDeadlineAndQueueWaitEndRequestsAndFreeTheirBlocks) {
  Sim sim(config(64, 4, 0, /*max_running=*/1), 16);
  sim.add(1, 8, 100);
  expect_steps(sim, {"A+8! | free 14"});
  sim.add(2, 4, 4);
  sim.add(3, 4, 4).deadline = SteadyTime{} + milliseconds(1500);
  expect_steps(sim, {"A+1 | free 13"});
  sim.find(1)->cancelled = true;
  expect_steps(sim, {"B+4! xA:cancelled | free 15"});
  sim.advance(milliseconds(2000));  // C: past its deadline (checked first) and queue wait
  expect_steps(sim, {"B+1 xC:deadline | free 14"});
  sim.add(4, 4, 4);
  sim.advance(milliseconds(1000));  // D waited max_queue_wait without starting
  expect_steps(sim, {"B+1 xD:queue_wait | free 14"});
  sim.find(2)->deadline = SteadyTime{} + milliseconds(1);
  expect_steps(sim, {"xB:deadline | free 16"});
}

TEST(SchedulerTest, PreemptedRequestsAreExemptFromTheQueueWait) {
  Sim sim(config(16, 2), 4);
  sim.add(1, 3, 6);
  sim.add(2, 3, 6);
  expect_steps(sim, {"A+3! B+3! | free 0", "A+1 B+1 | free 0", "A+1 -B | free 1"});
  sim.advance(milliseconds(5000));  // B waits long, but it has started: it stays
  expect_steps(sim, {"A+1 | free 1", "A+1 | free 0"});
}

TEST(SchedulerTest, MemoryPressureShortensNewAdmissionsToWhatFits) {
  Sim sim(config(64, 4), /*blocks=*/8);
  sim.add(1, 8, 4);
  expect_steps(sim, {"A+8! | free 6"});
  sim.set_pressure(true);
  // A's decode takes a block first; then 5 free blocks = 20 tokens, 6 for
  // B's prompt leaves 14.
  sim.add(2, 6, 30);
  sim.add(3, 2, 1, /*min_new=*/1);  // already within what fits
  expect_steps(sim, {"A+1 B+6! C+2! ~B:14 | free 3"});
  EXPECT_EQ(sim.find(2)->max_new_tokens, 14);
}

TEST(SchedulerTest, ShorteningNeverGoesBelowMinNewTokens) {
  Sim sim(config(64, 4), 4);
  sim.hold_blocks(2);
  sim.set_pressure(true);
  sim.add(1, 4, 30, /*min_new=*/6);  // 2 free blocks hold 8 tokens: 4 after the prompt
  expect_steps(sim, {"A+4! ~A:6 | free 1"});
}

TEST(SchedulerTest, WatermarkPressureNeedsWaitingRequests) {
  SchedulerConfig c = config(64, 4);
  c.pressure_watermark_blocks = 4;
  SchedulerState st;
  st.num_free_blocks = 3;
  EXPECT_FALSE(schedule(c, st).memory_pressure);  // nobody waits
  SchedRequest r;
  r.seq = 1;
  r.num_prompt_tokens = r.num_tokens = 4;
  r.max_new_tokens = 20;
  st.waiting.push_back(r);
  const SchedulerOutput out = schedule(c, st);
  EXPECT_TRUE(out.memory_pressure);
  ASSERT_EQ(out.shortened.size(), 1u);
  EXPECT_EQ(out.shortened[0].to_max_new_tokens, 3 * 4 - 4);
}

TEST(SchedulerTest, AVictimAlreadyPlannedThisStepIsUnplanned) {
  // A state another admission policy could leave: A (admitted first) holds
  // slots for only part of its prompt, so its prefill chunk needs blocks.
  // B's decode is planned first (decodes come first); A's chunk then finds
  // no block and preempts B, the most recent, which must be unplanned.
  SchedulerConfig c = config(16, 2);
  SchedRequest a;
  a.seq = 1;
  a.num_prompt_tokens = a.num_tokens = 6;
  a.num_computed_tokens = a.num_slot_tokens = 2;
  a.num_blocks = 1;
  a.max_new_tokens = 8;
  SchedRequest b;
  b.seq = 2;
  b.num_prompt_tokens = 3;
  b.num_tokens = 4;
  b.num_computed_tokens = b.num_slot_tokens = 3;
  b.num_blocks = 2;
  b.max_new_tokens = 8;
  SchedulerState st{{a, b}, {}, /*free=*/2, false, SteadyTime{}};
  SchedulerOutput out = schedule(c, st);  // enough blocks: both run, B's decode first
  ASSERT_EQ(out.scheduled.size(), 2u);
  EXPECT_EQ(out.scheduled[0].seq, 2u);
  EXPECT_EQ(out.scheduled[1].seq, 1u);
  EXPECT_EQ(out.scheduled[1].num_new_blocks, 2);
  EXPECT_TRUE(out.preempted.empty());
  EXPECT_EQ(out.num_scheduled_tokens, 5);

  st.num_free_blocks = 0;
  out = schedule(c, st);
  ASSERT_EQ(out.preempted, std::vector<uint64_t>{2});
  ASSERT_EQ(out.scheduled.size(), 1u);
  EXPECT_EQ(out.scheduled[0].seq, 1u);
  EXPECT_EQ(out.scheduled[0].num_new_tokens, 4);
  EXPECT_EQ(out.num_scheduled_tokens, 4);   // B's token went back to the budget
  EXPECT_EQ(out.num_free_blocks_after, 0);  // B's two blocks went to A
}

}  // namespace
}  // namespace keel::engine
