#include "keel/cli/model_options.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "keel/backend/cpu_features.h"
#include "keel/core/logging.h"
#include "keel/engine/model_executor.h"
#include "keel/engine/tp_executor.h"
#include "keel/memory/bytes.h"
#include "keel/memory/system_memory.h"

namespace keel::cli {

void add_model_options(CLI::App* cmd, ModelCliOptions& o) {
  cmd->add_option("--model,-m", o.model_dir, "HuggingFace model folder (config.json, safetensors, tokenizer)")
      ->required();
  cmd->add_option("--memory-limit", o.memory_limit,
                  "memory keel may use, e.g. 2GiB (default: available memory minus headroom)");
  cmd->add_option("--kv-cache-fraction", o.kv_cache_fraction,
                  "fraction of the memory left after the weights given to the KV cache")
      ->check(CLI::Range(0.0, 1.0).description("in (0, 1]"));
  cmd->add_option("--max-batch-tokens", o.max_batch_tokens,
                  "tokens one forward step may process (prefill chunk size)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--max-context", o.max_context,
                  "longest sequence in tokens (default: the model's max_position_embeddings)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--kv-dtype", o.kv_dtype, "KV cache element type (default: the weights')")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  cmd->add_option("--block-size", o.block_size, "tokens per KV cache block")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--threads,-t", o.threads, "compute threads (default: the CPUs available)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--isa", o.isa, "CPU kernel variant (default: the best this CPU supports)")
      ->check(CLI::IsMember({"scalar", "avx2", "avx512", "avx512bf16"}));
  cmd->add_option("--gemm-precision", o.gemm_precision,
                  "prefill matmul products on AVX512-BF16: auto (bf16 for bf16 weights, f32 "
                  "otherwise), f32 (always exact f32 products), bf16 (f16 weights rounded to bf16 "
                  "too: ~2x faster prefill, 3 mantissa bits lost per weight)")
      ->check(CLI::IsMember({"auto", "f32", "bf16"}));
}

void add_tp_option(CLI::App* cmd, ModelCliOptions& o) {
  cmd->add_option("--tp", o.tp,
                  "tensor-parallel ranks: the model's heads and MLP columns split over N threads, "
                  "each with --memory-limit / N and --threads / N")
      ->check(CLI::Range(1, 64));
}

namespace {

Result<uint64_t> choose_budget(const ModelCliOptions& o) {
  if (!o.memory_limit.empty()) {
    Result<uint64_t> parsed = memory::parse_bytes(o.memory_limit);
    if (!parsed.ok()) return parsed.status().with_context("--memory-limit");
    const uint64_t limit = *parsed;
    if (limit == 0) return InvalidArgumentError("--memory-limit must be more than 0 bytes");
    KEEL_LOG_INFO("memory budget {} (--memory-limit)", memory::format_bytes(limit));
    return limit;
  }
  KEEL_ASSIGN_OR_RETURN(memory::CpuBudgetReport report, memory::default_cpu_budget());
  KEEL_LOG_INFO("memory {}", report.explanation);
  return report.budget_bytes;
}

// "loading weights  42% (1.05 GiB / 2.47 GiB)" redrawn in place on a terminal.
model::LoadProgress terminal_progress() {
  if (::isatty(STDERR_FILENO) == 0) return {};
  auto last_percent = std::make_shared<int>(-1);
  return [last_percent](uint64_t done, uint64_t total) {
    const int percent = total == 0 ? 100 : static_cast<int>(done * 100 / total);
    if (percent == *last_percent) return;
    *last_percent = percent;
    std::fprintf(stderr, "\rloading weights %3d%% (%s / %s)%s", percent,
                 memory::format_bytes(done).c_str(), memory::format_bytes(total).c_str(),
                 percent == 100 ? "\n" : "");
    std::fflush(stderr);
  };
}

Result<model::RuntimeOptions> runtime_options(const ModelCliOptions& o, int64_t max_kv_tokens,
                                              int64_t context_cap, int64_t max_logit_rows) {
  model::RuntimeOptions ro;
  ro.model_dir = o.model_dir;
  ro.model.max_batch_tokens = o.max_batch_tokens;
  ro.model.max_logit_rows = std::min(max_logit_rows, o.max_batch_tokens);
  KEEL_ASSIGN_OR_RETURN(model::ModelConfig config, model::load_model_config(o.model_dir));
  int64_t context = o.max_context > 0 ? o.max_context : config.max_context_tokens;
  if (context > config.max_context_tokens) {
    return InvalidArgumentError("--max-context {} exceeds the model's context of {} tokens",
                                context, config.max_context_tokens);
  }
  if (context_cap > 0) context = std::min(context, context_cap);
  ro.model.max_context_tokens = context;
  ro.kv_cache_fraction = o.kv_cache_fraction;
  ro.max_kv_tokens = max_kv_tokens;
  ro.block_size_tokens = o.block_size;
  if (o.kv_dtype == "f32") ro.kv_dtype = memory::KvDtype::kF32;
  if (o.kv_dtype == "f16") ro.kv_dtype = memory::KvDtype::kF16;
  if (o.kv_dtype == "bf16") ro.kv_dtype = memory::KvDtype::kBF16;
  if (!o.isa.empty()) {
    KEEL_ASSIGN_OR_RETURN(ro.isa, backend::parse_isa(o.isa));
  }
  KEEL_ASSIGN_OR_RETURN(ro.gemm_precision, backend::parse_gemm_precision(o.gemm_precision));
  ro.progress = terminal_progress();
  return ro;
}

}  // namespace

Result<LoadedModel> load_model(const ModelCliOptions& o, int64_t max_kv_tokens,
                               int64_t context_cap, int64_t max_logit_rows) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel m;
  KEEL_ASSIGN_OR_RETURN(uint64_t budget, choose_budget(o));
  m.device = std::make_unique<memory::CpuDevice>(budget);
  m.pool = std::make_unique<ThreadPool>(o.threads > 0 ? o.threads : ThreadPool::available_cpus());
  KEEL_ASSIGN_OR_RETURN(model::RuntimeOptions ro,
                        runtime_options(o, max_kv_tokens, context_cap, max_logit_rows));
  ro.pool = m.pool.get();
  KEEL_ASSIGN_OR_RETURN(m.runtime, model::start_runtime(ro, *m.device));
  KEEL_LOG_INFO("{}", m.runtime.config.summary());
  KEEL_LOG_INFO("kernels {} (GEMM precision {}) on {} threads; {}",
                backend::isa_name(m.runtime.model->kernels().isa()),
                backend::gemm_precision_name(m.runtime.model->kernels().gemm_precision()),
                m.pool->num_threads(), m.device->budget().snapshot().to_string());
  m.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

Result<LoadedExecutor> load_executor(const ModelCliOptions& o, int64_t max_logit_rows,
                                     std::chrono::milliseconds collective_timeout) {
  LoadedExecutor e;
  if (o.tp <= 1) {
    KEEL_ASSIGN_OR_RETURN(LoadedModel m, load_model(o, 0, 0, max_logit_rows));
    e.device = std::move(m.device);
    e.pool = std::move(m.pool);
    e.budget_bytes = e.device->budget().limit_bytes();
    e.budgets.push_back(&e.device->budget());
    auto executor = std::make_unique<engine::ModelExecutor>(std::move(m.runtime));
    e.rank0 = &executor->runtime();
    e.executor = std::move(executor);
    e.load_seconds = m.load_seconds;
    return e;
  }
  const auto t0 = std::chrono::steady_clock::now();
  engine::TpExecutorOptions to;
  to.world_size = o.tp;
  KEEL_ASSIGN_OR_RETURN(to.budget_bytes, choose_budget(o));
  KEEL_ASSIGN_OR_RETURN(to.runtime, runtime_options(o, 0, 0, max_logit_rows));
  to.threads = o.threads;
  to.collective_timeout = collective_timeout;
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<engine::TpExecutor> tp, engine::TpExecutor::create(to));
  for (int r = 0; r < tp->world_size(); ++r) {
    e.budgets.push_back(&tp->device(r).budget());
    KEEL_LOG_INFO("rank {}: {}", r, tp->device(r).budget().snapshot().to_string());
  }
  KEEL_LOG_INFO("{} (tensor parallel over {} ranks)", tp->runtime(0).full_config.summary(), o.tp);
  e.budget_bytes = to.budget_bytes;
  e.rank0 = &tp->runtime(0);
  e.executor = std::move(tp);
  e.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

}  // namespace keel::cli
