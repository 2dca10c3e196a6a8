// The group's control path: creation, entering and leaving a collective,
// barriers with deadlines, abort and reset. The data path is collectives.cc.
#include "keel/parallel/communicator.h"

#include <algorithm>
#include <limits>
#include <thread>

#include "keel/core/check.h"
#include "keel/core/fault.h"
#include "keel/core/logging.h"
#include "keel/core/thread_pool.h"
#include "keel/parallel/comm_state.h"

namespace keel::parallel {
namespace {

constexpr int kMaxWorldSize = 64;
constexpr size_t kSliceAlignFloats = 16;  // a 64-byte cache line of floats
// While reset() waits for ranks to leave their collectives.
constexpr auto kResetPoll = std::chrono::microseconds(200);

// Rounded to the nearest millisecond ("within 300 ms", not 299).
int64_t ms_between(SteadyTime from, SteadyTime to) {
  return (std::chrono::duration_cast<std::chrono::microseconds>(to - from).count() + 500) / 1000;
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kAllReduceSum: return "all_reduce";
    case OpKind::kAllGather: return "all_gather";
    case OpKind::kBroadcast: return "broadcast";
    case OpKind::kBarrier: return "barrier";
  }
  return "collective";
}

// ---- CommState ----

void CommState::abort(int rank, Status status) {
  KEEL_CHECK(!status.ok()) << "abort needs a failure";
  {
    std::lock_guard<std::mutex> lock(failure_mu);
    if (!failure.has_value()) {
      KEEL_LOG_WARN("tensor-parallel group aborted (generation {}): {}",
                    generation.load(), status.to_string());
      failure = GroupFailure{rank, std::move(status)};
    }
  }
  // After the failure is recorded: a rank that sees the flag finds it.
  aborted.store(true);
  {
    std::lock_guard<std::mutex> lock(wait_mu);
  }
  wait_cv.notify_all();
}

std::optional<GroupFailure> CommState::first_failure() const {
  std::lock_guard<std::mutex> lock(failure_mu);
  return failure;
}

void CommState::wake_sleepers() {
  if (sleepers.load() == 0) return;
  {
    std::lock_guard<std::mutex> lock(wait_mu);
  }
  wait_cv.notify_all();
}

bool CommState::all_arrived(uint64_t target) const {
  for (int r = 0; r < world_size; ++r) {
    if (ranks[r].arrived.load() < target) return false;
  }
  return true;
}

std::string CommState::ranks_where(uint64_t target, bool arrived) const {
  std::string out;
  for (int r = 0; r < world_size; ++r) {
    if ((ranks[r].arrived.load() >= target) != arrived) continue;
    if (!out.empty()) out += ",";
    out += std::to_string(r);
  }
  return out.empty() ? "none" : out;
}

std::string CommState::missing_ranks(uint64_t target) const {
  std::string list = ranks_where(target, false);
  return (list.find(',') == std::string::npos ? "rank " : "ranks ") + list;
}

Status aborted_status(const CommState& s) {
  auto f = s.first_failure();
  if (f.has_value()) return f->status;
  return CancelledError("tensor-parallel group aborted");  // reset raced: never the first cause
}

int CommState::first_missing(uint64_t target) const {
  for (int r = 0; r < world_size; ++r) {
    if (ranks[r].arrived.load() < target) return r;
  }
  return -1;
}

// ---- creation ----

Result<std::unique_ptr<CommGroup>> create_group(int world_size, CommOptions options) {
  if (world_size < 1 || world_size > kMaxWorldSize) {
    return InvalidArgumentError("tensor-parallel world size {} is out of range [1, {}]",
                                world_size, kMaxWorldSize);
  }
  if (options.max_elements == 0 ||
      options.max_elements > std::numeric_limits<size_t>::max() / 8 / sizeof(float)) {
    return InvalidArgumentError("communicator max_elements {} must be in [1, 2^58]",
                                options.max_elements);
  }
  if (!options.devices.empty() && options.devices.size() != static_cast<size_t>(world_size)) {
    return InvalidArgumentError("communicator: {} devices for {} ranks; give one per rank or none",
                                options.devices.size(), world_size);
  }
  auto state = std::make_shared<CommState>();
  state->world_size = world_size;
  state->max_elements = options.max_elements;
  const size_t per_rank = (options.max_elements + static_cast<size_t>(world_size) - 1) /
                          static_cast<size_t>(world_size);
  state->slice_capacity = round_up(per_rank, kSliceAlignFloats);
  const std::chrono::microseconds spin = options.spin.value_or(
      world_size < ThreadPool::available_cpus() ? kDefaultSpin : std::chrono::microseconds(0));
  state->spin_ns = std::max<int64_t>(0, spin.count()) * 1000;
  const uint64_t bytes = (options.max_elements + state->slice_capacity) * sizeof(float);

  std::vector<memory::Device*> devices = options.devices;
  if (devices.empty()) {
    for (int r = 0; r < world_size; ++r) {
      auto device = std::make_unique<memory::CpuDevice>(bytes);
      device->budget().set_rank(r);
      devices.push_back(device.get());
      state->own_devices.push_back(std::move(device));
    }
  }
  state->ranks = std::make_unique<RankSlot[]>(static_cast<size_t>(world_size));
  for (int r = 0; r < world_size; ++r) {
    if (devices[static_cast<size_t>(r)] == nullptr) {
      return InvalidArgumentError("communicator: device of rank {} is null", r);
    }
    auto buffer = devices[static_cast<size_t>(r)]->allocate(
        bytes, fmt::format("collective buffers (rank {})", r));
    if (!buffer.ok()) {
      return Status(buffer.status().code(),
                    fmt::format("rank {}: {}", r, buffer.status().message()));
    }
    auto* base = static_cast<float*>(buffer->data());
    state->ranks[r].input = base;
    state->ranks[r].result = base + options.max_elements;
    state->buffers.push_back(std::move(buffer).value());
  }
  return std::unique_ptr<CommGroup>(new CommGroup(std::move(state)));
}

// ---- CommGroup ----

CommGroup::CommGroup(std::shared_ptr<CommState> state) : state_(std::move(state)) {
  for (int r = 0; r < state_->world_size; ++r) {
    comms_.push_back(std::unique_ptr<Communicator>(new Communicator(state_, r)));
  }
}

CommGroup::~CommGroup() = default;

int CommGroup::world_size() const { return state_->world_size; }
size_t CommGroup::max_elements() const { return state_->max_elements; }

Communicator& CommGroup::comm(int rank) {
  KEEL_CHECK(rank >= 0 && rank < state_->world_size) << "rank " << rank << " out of range";
  return *comms_[static_cast<size_t>(rank)];
}

void CommGroup::abort(const Status& why) { state_->abort(-1, why); }
bool CommGroup::aborted() const { return state_->aborted.load(); }
uint64_t CommGroup::generation() const { return state_->generation.load(); }

std::string CommGroup::ranks_behind() const {
  const CommState& s = *state_;
  uint64_t most = 0;
  for (int r = 0; r < s.world_size; ++r) most = std::max(most, s.ranks[r].arrived.load());
  return s.ranks_where(most, /*arrived=*/false);
}
std::optional<GroupFailure> CommGroup::failure() const { return state_->first_failure(); }

Status CommGroup::group_status() const {
  auto f = state_->first_failure();
  return f.has_value() ? f->status : OkStatus();
}

Status CommGroup::reset(Deadline deadline) {
  CommState& s = *state_;
  std::lock_guard<std::mutex> lock(s.reset_mu);
  const uint64_t gen = s.generation.load();
  if (!s.aborted.load()) {
    s.abort(-1, CancelledError("tensor-parallel group reset (generation {})", gen));
  }
  // Every rank inside a collective sees the abort within a wake-up (or one
  // stall slice) and leaves; wait for that, boundedly.
  for (;;) {
    std::string inside;
    for (int r = 0; r < s.world_size; ++r) {
      if (!s.ranks[r].inside.load()) continue;
      if (!inside.empty()) inside += ",";
      inside += std::to_string(r);
    }
    if (inside.empty()) break;
    if (deadline.expired()) {
      return DeadlineExceededError(
          "tensor-parallel reset of generation {}: ranks {} did not leave their collective "
          "by the deadline; the group stays aborted (create a new one)", gen, inside);
    }
    std::this_thread::sleep_for(kResetPoll);
  }
  // No rank is inside, and none can enter past the abort flag, so the state
  // is ours. The generation moves before the flag clears: a rank that sees
  // the flag clear sees the new generation (and is refused if it did not
  // rejoin).
  for (int r = 0; r < s.world_size; ++r) s.ranks[r].arrived.store(0);
  {
    std::lock_guard<std::mutex> failure_lock(s.failure_mu);
    s.failure.reset();
  }
  s.generation.store(gen + 1);
  s.aborted.store(false);
  KEEL_LOG_INFO("tensor-parallel group reset: generation {} -> {}", gen, gen + 1);
  return OkStatus();
}

// ---- Communicator: control path ----

Communicator::Communicator(std::shared_ptr<CommState> state, int rank)
    : state_(std::move(state)), rank_(rank) {}

int Communicator::world_size() const { return state_->world_size; }

void Communicator::abort(const Status& why) {
  KEEL_CHECK(!why.ok()) << "abort needs a failure";
  state_->abort(rank_, UnavailableError("rank {} failed: {}", rank_, why.to_string()));
}

Status Communicator::group_status() const {
  auto f = state_->first_failure();
  return f.has_value() ? f->status : OkStatus();
}

std::optional<GroupFailure> Communicator::failure() const { return state_->first_failure(); }

void Communicator::rejoin() {
  const uint64_t gen = state_->generation.load();
  if (gen == generation_) return;
  generation_ = gen;
  seq_ = 0;
  barriers_ = 0;
}

Status Communicator::fail_op(const Op& op, Status why) {
  KEEL_CHECK(!why.ok());
  return Status(why.code(), fmt::format("{} (collective {} #{} on rank {} aborted)", why.message(),
                                        op_kind_name(op.kind), op.seq, rank_));
}

Status Communicator::enter(Op& op, Deadline deadline) {
  CommState& s = *state_;
  op.seq = ++seq_;
  op.entered = std::chrono::steady_clock::now();
  RankSlot& me = s.ranks[rank_];
  me.inside.store(true);
  // Order matters (see CommGroup::reset): the abort flag before the
  // generation.
  if (s.aborted.load()) {
    Status why = fail_op(op, aborted_status(s));
    leave();
    return why;
  }
  const uint64_t gen = s.generation.load();
  if (gen != generation_) {
    leave();
    return FailedPreconditionError(
        "rank {}: {} #{} refused: the group was reset (generation {} -> {}) while this rank "
        "was in an aborted step; rejoin() at the start of the next step",
        rank_, op_kind_name(op.kind), op.seq, generation_, gen);
  }
  if (fault::any_armed()) {
    const fault::Site site{.rank = rank_, .phase = "collective", .abort = &s.aborted,
                           .deadline = deadline};
    if (Status dead = fault::check(fault::Point::kRankDead, site); !dead.ok()) {
      abort(dead);
      Status why = fail_op(op, aborted_status(s));
      leave();
      return why;
    }
    if (Status stalled = fault::check(fault::Point::kCollectiveStall, site); !stalled.ok()) {
      if (!s.aborted.load()) {
        // Worded as a waiting peer would word it: whichever of them sees
        // the deadline first, the group reports the same thing.
        s.abort(rank_, DeadlineExceededError(
                           "{} #{}: rank {} did not arrive within {} ms (ranks {} waiting; it "
                           "stalled before joining)", op_kind_name(op.kind), op.seq, rank_,
                           ms_between(op.entered, deadline.at()),
                           s.ranks_where(barriers_ + 1, true)));
      }
      Status why = fail_op(op, aborted_status(s));
      leave();
      return why;
    }
  }
  if (Status bad = check_args(op); !bad.ok()) {
    abort(bad);
    leave();
    return bad;
  }
  return OkStatus();
}

void Communicator::leave() { state_->ranks[rank_].inside.store(false); }

Status Communicator::sync(const Op& op, const char* what_missing, Deadline deadline) {
  CommState& s = *state_;
  const uint64_t target = ++barriers_;
  s.ranks[rank_].arrived.store(target);
  if (s.all_arrived(target)) {
    s.wake_sleepers();
    return OkStatus();
  }
  // Spin (yielding) briefly: back-to-back collectives usually find their
  // peers within microseconds.
  if (s.spin_ns > 0) {
    const SteadyTime spin_end =
        std::min(deadline.at(), std::chrono::steady_clock::now() +
                                    std::chrono::nanoseconds(s.spin_ns));
    for (uint32_t i = 1;; ++i) {
      if (s.all_arrived(target)) return OkStatus();
      if (s.aborted.load()) return fail_op(op, aborted_status(s));
      if ((i & 15) == 0) {
        if (std::chrono::steady_clock::now() >= spin_end) break;
        std::this_thread::yield();
      } else {
        cpu_relax();
      }
    }
  }
  {
    std::unique_lock<std::mutex> lock(s.wait_mu);
    s.sleepers.fetch_add(1);
    bool done = false;
    for (;;) {
      // Completion first: a barrier every rank reached counts even if an
      // abort follows, so a collective ends the same way on every rank.
      if (s.all_arrived(target)) { done = true; break; }
      if (s.aborted.load()) break;
      if (std::chrono::steady_clock::now() >= deadline.at()) break;
      s.wait_cv.wait_until(lock, deadline.at());
    }
    s.sleepers.fetch_sub(1);
    if (done) return OkStatus();
  }
  if (!s.aborted.load()) {
    const int missing = s.first_missing(target);
    if (missing < 0) return OkStatus();  // all arrived just now
    s.abort(missing, DeadlineExceededError(
                         "{} #{}: {} {} within {} ms (ranks {} waiting)",
                         op_kind_name(op.kind), op.seq, s.missing_ranks(target),
                         what_missing, ms_between(op.entered, deadline.at()),
                         s.ranks_where(target, true)));
  }
  return fail_op(op, aborted_status(s));
}

// ---- RankGuard ----

RankGuard::~RankGuard() {
  if (finished_) return;
  comm_.abort(UnavailableError("its thread left its step without finishing it (the rank died)"));
}

}  // namespace keel::parallel
