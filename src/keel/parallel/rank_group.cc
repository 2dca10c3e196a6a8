#include "keel/parallel/rank_group.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>

#include "keel/core/check.h"
#include "keel/core/logging.h"

namespace keel::parallel {
namespace {

// Idle rank threads wake at least this often (shutdown is also notified;
// this only bounds every wait).
constexpr auto kIdlePoll = std::chrono::milliseconds(200);
// While run_step waits, it re-checks the group's abort flag this often (an
// abort from outside the ranks does not notify it).
constexpr auto kStepPoll = std::chrono::milliseconds(5);

int64_t ms_since(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t).count();
}

}  // namespace

struct RankGroup::State {
  std::unique_ptr<CommGroup> comms;
  int world_size = 0;

  std::mutex mu;
  std::condition_variable work_cv;  // a step was posted, or stop
  std::condition_variable done_cv;  // a rank finished a step or exited
  // Guarded by mu.
  bool stop = false;
  uint64_t step = 0;  // the last step posted
  std::shared_ptr<const StepFn> fn;
  struct Rank {
    bool busy = false;
    bool exited = false;
    uint64_t done_step = 0;  // the last step this rank finished
    Status status;           // of done_step
  };
  std::vector<Rank> ranks;
  int live_threads = 0;

  // "1,3" of the ranks for which pred(rank) holds. Requires mu.
  template <typename Pred>
  std::string ranks_where(Pred pred) const {
    std::string out;
    for (int r = 0; r < world_size; ++r) {
      if (!pred(ranks[static_cast<size_t>(r)])) continue;
      if (!out.empty()) out += ",";
      out += std::to_string(r);
    }
    return out;
  }
};

Result<std::unique_ptr<RankGroup>> RankGroup::create(RankGroupOptions options) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<CommGroup> comms,
                        create_group(options.world_size, options.comm));
  auto state = std::make_shared<State>();
  state->comms = std::move(comms);
  state->world_size = options.world_size;
  state->ranks.resize(static_cast<size_t>(options.world_size));
  state->live_threads = options.world_size;
  return std::unique_ptr<RankGroup>(new RankGroup(std::move(state), options));
}

RankGroup::RankGroup(std::shared_ptr<State> state, RankGroupOptions options)
    : state_(std::move(state)), options_(std::move(options)) {
  for (int r = 0; r < state_->world_size; ++r) {
    threads_.emplace_back(&RankGroup::rank_main, state_, r);
  }
}

RankGroup::~RankGroup() {
  State& s = *state_;
  bool busy = false;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stop = true;
    for (const auto& r : s.ranks) busy = busy || r.busy;
  }
  if (busy) s.comms->abort(CancelledError("tensor-parallel rank group shutting down"));
  s.work_cv.notify_all();
  bool all_exited;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    all_exited = s.done_cv.wait_for(lock, options_.shutdown_timeout,
                                    [&] { return s.live_threads == 0; });
    if (!all_exited) {
      KEEL_LOG_ERROR("tensor-parallel rank group: ranks {} did not exit within {} ms; detaching "
                     "them", s.ranks_where([](const State::Rank& r) { return !r.exited; }),
                     options_.shutdown_timeout.count());
    }
  }
  for (auto& t : threads_) {
    if (all_exited) {
      t.join();
    } else {
      t.detach();
    }
  }
}

int RankGroup::world_size() const { return state_->world_size; }
CommGroup& RankGroup::comm_group() { return *state_->comms; }

uint64_t RankGroup::steps() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->step;
}

void RankGroup::rank_main(std::shared_ptr<State> state, int rank) {
  State& s = *state;
  Communicator& comm = s.comms->comm(rank);
  auto& me = s.ranks[static_cast<size_t>(rank)];
  uint64_t seen = 0;
  for (;;) {
    std::shared_ptr<const StepFn> fn;
    {
      std::unique_lock<std::mutex> lock(s.mu);
      while (!s.stop && s.step == seen) s.work_cv.wait_for(lock, kIdlePoll);
      if (s.stop) break;
      seen = s.step;
      fn = s.fn;
      me.busy = true;
    }
    comm.rejoin();
    RankGuard guard(comm);
    Status status;
    try {
      status = (*fn)(rank, comm);
    } catch (const std::exception& e) {
      status = InternalError("rank {} step threw: {}", rank, e.what());
    } catch (...) {
      status = InternalError("rank {} step threw a non-standard exception", rank);
    }
    // Its own failure aborts the group so that peers waiting in a collective
    // return now; a failure that came from the group's abort changes nothing
    // (the first failure is kept). A straggler of an older generation must
    // not abort the new one.
    if (!status.ok() && comm.generation() == s.comms->generation()) comm.abort(status);
    guard.finish();
    {
      std::lock_guard<std::mutex> lock(s.mu);
      me.busy = false;
      me.done_step = seen;
      me.status = std::move(status);
    }
    s.done_cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    me.exited = true;
    --s.live_threads;
  }
  s.done_cv.notify_all();
}

Status RankGroup::run_step(StepFn fn, Deadline deadline) {
  State& s = *state_;
  if (s.comms->aborted()) {
    return FailedPreconditionError("tensor-parallel group is aborted ({}); reset() it first",
                                   s.comms->group_status().to_string());
  }
  std::unique_lock<std::mutex> lock(s.mu);
  auto busy = [](const State::Rank& r) { return r.busy; };
  // Stragglers of an aborted step hold their rank.
  while (!s.ranks_where(busy).empty()) {
    if (deadline.expired()) {
      return DeadlineExceededError("tensor-parallel step {}: ranks {} are still running step {} "
                                   "(aborted)", s.step + 1, s.ranks_where(busy), s.step);
    }
    s.done_cv.wait_until(lock, std::min(deadline.at(), std::chrono::steady_clock::now() +
                                                           kIdlePoll));
  }
  const uint64_t step = ++s.step;
  s.fn = std::make_shared<const StepFn>(std::move(fn));
  const SteadyTime started = std::chrono::steady_clock::now();
  s.work_cv.notify_all();

  auto unfinished = [step](const State::Rank& r) { return r.done_step != step; };
  std::optional<SteadyTime> grace_end;
  for (;;) {
    if (s.ranks_where(unfinished).empty()) break;
    const SteadyTime now = std::chrono::steady_clock::now();
    if (!grace_end.has_value() && s.comms->aborted()) grace_end = now + options_.abort_grace;
    if (grace_end.has_value() && now >= *grace_end) {
      return Status(s.comms->group_status().code(),
                    fmt::format("{}; rank(s) {} still in step {} {} ms after the abort",
                                s.comms->group_status().message(), s.ranks_where(unfinished),
                                step, options_.abort_grace.count()));
    }
    if (now >= deadline.at()) {
      const std::string late = s.ranks_where(unfinished);
      const std::string finished =
          s.ranks_where([step](const State::Rank& r) { return r.done_step == step; });
      Status timeout = DeadlineExceededError(
          "tensor-parallel step {}: rank(s) {} did not finish within {} ms (ranks {} finished)",
          step, late, ms_since(started), finished.empty() ? "none" : finished);
      if (s.comms->aborted()) {
        return Status(s.comms->group_status().code(),
                      fmt::format("{}; rank(s) {} still in step {} at its deadline",
                                  s.comms->group_status().message(), late, step));
      }
      s.comms->abort(timeout);
      return timeout;
    }
    s.done_cv.wait_until(lock, std::min(deadline.at(), now + kStepPoll));
  }
  if (s.comms->aborted()) return s.comms->group_status();
  for (int r = 0; r < s.world_size; ++r) {
    const Status& st = s.ranks[static_cast<size_t>(r)].status;
    if (!st.ok()) return st.with_context(fmt::format("rank {}", r));
  }
  return OkStatus();
}

Status RankGroup::reset(Deadline deadline) {
  State& s = *state_;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    auto busy = [](const State::Rank& r) { return r.busy; };
    while (!s.ranks_where(busy).empty()) {
      if (deadline.expired()) {
        return DeadlineExceededError("tensor-parallel reset: ranks {} are still running step {}",
                                     s.ranks_where(busy), s.step);
      }
      s.done_cv.wait_until(lock, std::min(deadline.at(), std::chrono::steady_clock::now() +
                                                             kIdlePoll));
    }
  }
  return s.comms->reset(deadline);
}

}  // namespace keel::parallel
