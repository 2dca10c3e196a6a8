// The data path of the collectives (the control path is communicator.cc).
//
// Every collective: enter (generation, abort, fault points, arguments) ->
// publish this rank's OpDesc and data into its slot -> barrier A -> check that
// every rank called the same collective -> move data -> barrier B (so that no
// rank's next collective overwrites a slot another rank still reads) -> leave.
#include <algorithm>
#include <cstring>

#include "keel/core/check.h"
#include "keel/parallel/comm_state.h"
#include "keel/parallel/communicator.h"

namespace keel::parallel {
namespace {

// Floats summed per block: the accumulator stays in L1 while every rank's
// block of the slice is added to it.
constexpr size_t kReduceBlockFloats = 512;
constexpr size_t kSliceAlignFloats = 16;

void copy_floats(float* dst, const float* src, size_t n) {
  if (n > 0) std::memcpy(dst, src, n * sizeof(float));
}

// Rank r's slice [lo, hi) of n elements: ceil(n / world) rounded up to a
// cache line, so no two ranks write one line and every slice fits its
// result buffer (slice_capacity is the same rounding of max_elements).
struct Slice {
  size_t lo = 0;
  size_t hi = 0;
};
Slice slice_of(size_t n, int world, int rank) {
  const size_t w = static_cast<size_t>(world);
  const size_t chunk = (n + w - 1) / w;
  const size_t aligned = (chunk + kSliceAlignFloats - 1) / kSliceAlignFloats * kSliceAlignFloats;
  const size_t lo = std::min(n, aligned * static_cast<size_t>(rank));
  return {lo, std::min(n, lo + aligned)};
}

std::string describe(const OpDesc& d) {
  if (d.kind == OpKind::kBarrier) return "barrier";
  if (d.kind == OpKind::kBroadcast) {
    return fmt::format("broadcast of {} floats from rank {}", d.count, d.root);
  }
  return fmt::format("{} of {} floats", op_kind_name(d.kind), d.count);
}

}  // namespace

Status Communicator::check_args(Op& op) {
  const CommState& s = *state_;
  if (op.count > s.max_elements) {
    return InvalidArgumentError(
        "{} #{} on rank {}: {} floats exceed the communicator's max_elements {} (sized at "
        "creation; create the group with a larger CommOptions::max_elements)",
        op_kind_name(op.kind), op.seq, rank_, op.count, s.max_elements);
  }
  if (op.kind == OpKind::kBroadcast && (op.root < 0 || op.root >= s.world_size)) {
    return InvalidArgumentError("broadcast #{} on rank {}: root {} is not a rank of [0, {})",
                                op.seq, rank_, op.root, s.world_size);
  }
  RankSlot& me = s.ranks[rank_];
  me.desc[op.seq & 1] = OpDesc{op.kind, op.seq, op.count, op.root};
  return OkStatus();
}

namespace {

// After barrier A: every rank announced the same collective, or Internal
// listing what each called.
Status check_same_op(const CommState& s, uint64_t seq, int* odd_rank) {
  const OpDesc& first = s.ranks[0].desc[seq & 1];
  bool same = true;
  int odd = -1;
  for (int r = 0; r < s.world_size; ++r) {
    const OpDesc& d = s.ranks[r].desc[seq & 1];
    if (d.kind != first.kind || d.count != first.count || d.root != first.root ||
        d.seq != first.seq) {
      same = false;
      if (odd < 0) odd = r;
    }
  }
  if (same) return OkStatus();
  *odd_rank = odd;
  std::string calls;
  for (int r = 0; r < s.world_size; ++r) {
    const OpDesc& d = s.ranks[r].desc[seq & 1];
    calls += fmt::format("{}rank {}: {} #{}", r == 0 ? "" : ", ", r, describe(d), d.seq);
  }
  return InternalError("collective mismatch (every rank must call the same collectives in the "
                       "same order): {}", calls);
}

}  // namespace

Status Communicator::check_same(const Op& op) {
  CommState& s = *state_;
  int odd_rank = -1;
  Status st = check_same_op(s, op.seq, &odd_rank);
  if (st.ok()) return st;
  s.abort(odd_rank, st);
  return fail_op(op, aborted_status(s));
}

Status Communicator::all_reduce_sum(std::span<float> data, Deadline deadline) {
  Op op{.kind = OpKind::kAllReduceSum, .count = data.size()};
  KEEL_RETURN_IF_ERROR(enter(op, deadline));
  CommState& s = *state_;
  const int world = s.world_size;
  if (world == 1) {  // the sum of one rank's data is that data
    leave();
    return OkStatus();
  }
  RankSlot& me = s.ranks[rank_];
  copy_floats(me.input, data.data(), data.size());
  Status st = sync(op, "did not arrive", deadline);
  if (st.ok()) st = check_same(op);
  if (st.ok()) {
    // Reduce-scatter: this rank sums its slice of every rank's input, in rank
    // order, into its result slice.
    const Slice mine = slice_of(data.size(), world, rank_);
    float acc[kReduceBlockFloats];
    for (size_t lo = mine.lo; lo < mine.hi; lo += kReduceBlockFloats) {
      const size_t n = std::min(kReduceBlockFloats, mine.hi - lo);
      const float* src0 = s.ranks[0].input + lo;
      for (size_t i = 0; i < n; ++i) acc[i] = src0[i];
      for (int q = 1; q < world; ++q) {
        const float* src = s.ranks[q].input + lo;
        for (size_t i = 0; i < n; ++i) acc[i] += src[i];
      }
      copy_floats(me.result + (lo - mine.lo), acc, n);
    }
    st = sync(op, "did not finish its slice", deadline);
  }
  if (st.ok()) {
    // All-gather of the result slices.
    for (int q = 0; q < world; ++q) {
      const Slice sq = slice_of(data.size(), world, q);
      copy_floats(data.data() + sq.lo, s.ranks[q].result, sq.hi - sq.lo);
    }
  }
  leave();
  return st;
}

Status Communicator::all_gather(std::span<const float> mine, std::span<float> out,
                                Deadline deadline) {
  Op op{.kind = OpKind::kAllGather, .count = mine.size()};
  KEEL_RETURN_IF_ERROR(enter(op, deadline));
  if (out.size() != mine.size() * static_cast<size_t>(state_->world_size)) {
    Status bad = InvalidArgumentError(
        "all_gather #{} on rank {}: out has {} floats, expected world_size {} x {} = {}", op.seq,
        rank_, out.size(), state_->world_size, mine.size(),
        mine.size() * static_cast<size_t>(state_->world_size));
    abort(bad);
    leave();
    return bad;
  }
  CommState& s = *state_;
  const int world = s.world_size;
  const size_t m = mine.size();
  if (world > 1) copy_floats(s.ranks[rank_].input, mine.data(), m);
  Status st = world > 1 ? sync(op, "did not arrive", deadline) : OkStatus();
  if (st.ok() && world > 1) st = check_same(op);
  if (st.ok()) {
    for (int q = 0; q < world; ++q) {
      const float* src = q == rank_ ? mine.data() : s.ranks[q].input;
      copy_floats(out.data() + static_cast<size_t>(q) * m, src, m);
    }
    if (world > 1) st = sync(op, "did not finish reading", deadline);
  }
  leave();
  return st;
}

Status Communicator::broadcast(std::span<float> data, int root, Deadline deadline) {
  Op op{.kind = OpKind::kBroadcast, .count = data.size(), .root = root};
  KEEL_RETURN_IF_ERROR(enter(op, deadline));
  CommState& s = *state_;
  if (s.world_size == 1) {
    leave();
    return OkStatus();
  }
  if (rank_ == root) copy_floats(s.ranks[root].input, data.data(), data.size());
  Status st = sync(op, "did not arrive", deadline);
  if (st.ok()) st = check_same(op);
  if (st.ok()) {
    if (rank_ != root) copy_floats(data.data(), s.ranks[root].input, data.size());
    st = sync(op, "did not finish reading", deadline);
  }
  leave();
  return st;
}

Status Communicator::barrier(Deadline deadline) {
  Op op{.kind = OpKind::kBarrier};
  KEEL_RETURN_IF_ERROR(enter(op, deadline));
  CommState& s = *state_;
  Status st = s.world_size > 1 ? sync(op, "did not arrive", deadline) : OkStatus();
  if (st.ok() && s.world_size > 1) st = check_same(op);
  leave();
  return st;
}

}  // namespace keel::parallel
