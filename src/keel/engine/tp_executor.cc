#include "keel/engine/tp_executor.h"

#include <fmt/format.h>

#include <algorithm>

#include "keel/core/logging.h"
#include "keel/memory/bytes.h"
#include "keel/parallel/rank_budget.h"

namespace keel::engine {

Result<std::unique_ptr<TpExecutor>> TpExecutor::create(TpExecutorOptions options) {
  const int n = options.world_size;
  KEEL_ASSIGN_OR_RETURN(uint64_t per_rank, parallel::split_budget(options.budget_bytes, n));
  std::unique_ptr<TpExecutor> ex(new TpExecutor(options));
  KEEL_ASSIGN_OR_RETURN(ex->devices_, parallel::make_rank_devices(options.budget_bytes, n));

  KEEL_ASSIGN_OR_RETURN(model::ModelConfig config, model::load_model_config(options.runtime.model_dir));
  parallel::RankGroupOptions go;
  go.world_size = n;
  go.abort_grace = options.abort_grace;
  go.comm.max_elements = static_cast<size_t>(options.runtime.model.max_batch_tokens) *
                         static_cast<size_t>(config.hidden_size);
  for (auto& d : ex->devices_) go.comm.devices.push_back(d.get());
  KEEL_ASSIGN_OR_RETURN(ex->group_, parallel::RankGroup::create(go));

  const int threads = options.threads > 0 ? options.threads : ThreadPool::available_cpus();
  ex->activity_ = std::make_unique<model::RankActivity[]>(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    ex->pools_.push_back(std::make_unique<ThreadPool>(std::max(1, threads / n)));
    model::RuntimeOptions ro = options.runtime;
    ro.tp_rank = r;
    ro.tp_size = n;
    ro.pool = ex->pools_.back().get();
    if (r > 0) {  // the same blocks as rank 0 (the largest shard: fewest blocks)
      const model::Runtime& r0 = ex->ranks_[0];
      ro.max_kv_tokens = r0.kv_pool->num_total() * r0.kv_pool->shape().block_size_tokens;
    }
    auto rt = model::start_runtime(ro, *ex->devices_[static_cast<size_t>(r)]);
    if (!rt.ok()) {
      return rt.status().with_context(fmt::format(
          "tensor-parallel rank {} of {} (its budget: {} = the total {} / {})", r, n,
          memory::format_bytes(per_rank), memory::format_bytes(options.budget_bytes), n));
    }
    if (r > 0 && rt->kv_pool->num_total() != ex->ranks_[0].kv_pool->num_total()) {
      return ResourceExhaustedError(
          "tensor-parallel rank {} has room for {} KV blocks, rank 0 for {}; every rank needs the "
          "same — lower --kv-cache-fraction or raise --memory-limit",
          r, rt->kv_pool->num_total(), ex->ranks_[0].kv_pool->num_total());
    }
    rt->model->set_tensor_parallel(&ex->group_->comm_group().comm(r), &ex->activity_[r]);
    ex->ranks_.push_back(std::move(rt).value());
  }
  return ex;
}

TpExecutor::~TpExecutor() { group_.reset(); }

ExecutorLimits TpExecutor::limits() const {
  const model::Model& m = *ranks_[0].model;
  return ExecutorLimits{ranks_[0].config.vocab_size, m.options().max_batch_tokens,
                        m.options().max_logit_rows, m.max_context_tokens()};
}

void TpExecutor::attach_progress(StepProgress* progress) {
  for (model::Runtime& rt : ranks_) rt.model->set_progress(progress);
}

Status TpExecutor::recover() {
  const Status s = group_->reset(Deadline::after(options_.abort_grace));
  if (s.ok()) {
    ++num_resets_;
    KEEL_LOG_INFO("tensor-parallel group reset after a failed step (generation {})",
                  group_->comm_group().generation());
  }
  return s;
}

Result<std::span<const float>> TpExecutor::execute(std::span<const model::SequenceStep> batch) {
  if (group_->comm_group().aborted()) {
    KEEL_RETURN_IF_ERROR(recover().with_context("a tensor-parallel rank is still stuck in an "
                                                "earlier step"));
  }
  const Deadline deadline = Deadline::after(options_.collective_timeout);
  for (model::Runtime& rt : ranks_) rt.model->set_collective_deadline(deadline);
  logits_ = {};
  const Status s = group_->run_step(
      [this, batch](int rank, parallel::Communicator&) -> Status {
        model::Runtime& rt = ranks_[static_cast<size_t>(rank)];
        model::RankActivity& act = activity_[rank];
        act.layer.store(-1, std::memory_order_relaxed);
        act.in_step.store(true, std::memory_order_relaxed);
        Result<std::span<const float>> out = rt.model->forward(batch, *rt.kv_pool);
        act.in_step.store(false, std::memory_order_relaxed);
        if (!out.ok()) return out.status();
        if (rank == 0) logits_ = *out;
        return OkStatus();
      },
      deadline);
  if (!s.ok()) {
    const Status reset = recover();
    if (!reset.ok()) KEEL_LOG_ERROR("tensor-parallel group reset failed: {}", reset.to_string());
    return s;
  }
  return logits_;
}

std::optional<std::string> TpExecutor::locate_stall() const {
  std::string stuck;
  std::string waiting;
  int32_t last_layer = -1;
  for (int r = 0; r < world_size(); ++r) {
    const model::RankActivity& a = activity_[r];
    if (!a.in_step.load(std::memory_order_relaxed)) continue;
    const int32_t layer = a.layer.load(std::memory_order_relaxed);
    last_layer = std::max(last_layer, layer);
    if (a.in_collective.load(std::memory_order_relaxed)) {
      waiting += fmt::format("{}{}", waiting.empty() ? "" : ",", r);
    } else {
      stuck += fmt::format("{}forward layer {} on rank {}", stuck.empty() ? "" : ", ", layer, r);
    }
  }
  if (stuck.empty() && waiting.empty()) return std::nullopt;
  if (stuck.empty()) {  // all in a collective: the group knows who has not arrived
    const std::string behind = group_->comm_group().ranks_behind();
    if (behind.empty()) {
      return fmt::format("a collective after layer {} (ranks {} inside it)", last_layer, waiting);
    }
    return fmt::format("a collective after layer {} on rank {}, which has not joined it (ranks {} "
                       "waiting)", last_layer, behind, waiting);
  }
  if (waiting.empty()) return stuck;
  return fmt::format("{} (ranks {} waiting in a collective)", stuck, waiting);
}

void TpExecutor::abort_step(const Status& why) { group_->comm_group().abort(why); }

}  // namespace keel::engine
