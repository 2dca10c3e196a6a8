// Per-rank memory: each tensor-parallel rank owns its own budget, total / N,
// so one rank running out of memory fails that rank (and names it) instead
// of silently borrowing from its peers.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "keel/core/result.h"
#include "keel/memory/device.h"

namespace keel::parallel {

// total_bytes / world_size, rounded down (the remainder, < world_size bytes,
// is not given to any rank). InvalidArgument unless 1 <= world_size <= 64.
Result<uint64_t> split_budget(uint64_t total_bytes, int world_size);

// world_size CPU devices, each with a budget of split_budget(total_bytes,
// world_size) and budget().set_rank(r), so fault points hit through rank r's
// budget (and KV pools created on it) carry rank r.
Result<std::vector<std::unique_ptr<memory::CpuDevice>>> make_rank_devices(uint64_t total_bytes,
                                                                          int world_size);

}  // namespace keel::parallel
