#include "keel/parallel/rank_budget.h"

namespace keel::parallel {

Result<uint64_t> split_budget(uint64_t total_bytes, int world_size) {
  if (world_size < 1 || world_size > 64) {
    return InvalidArgumentError("cannot split a memory budget across {} ranks (1 to 64)",
                                world_size);
  }
  return total_bytes / static_cast<uint64_t>(world_size);
}

Result<std::vector<std::unique_ptr<memory::CpuDevice>>> make_rank_devices(uint64_t total_bytes,
                                                                          int world_size) {
  KEEL_ASSIGN_OR_RETURN(uint64_t per_rank, split_budget(total_bytes, world_size));
  std::vector<std::unique_ptr<memory::CpuDevice>> devices;
  for (int r = 0; r < world_size; ++r) {
    devices.push_back(std::make_unique<memory::CpuDevice>(per_rank));
    devices.back()->budget().set_rank(r);
  }
  return devices;
}

}  // namespace keel::parallel
