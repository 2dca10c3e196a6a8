// Options shared by the commands that load a model (generate, bench, and
// later serve): where the model is, how much memory keel may use, and how
// it runs. Turns them into a started model::Runtime, with a progress line on
// a terminal while the weights load.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/result.h"
#include "keel/core/thread_pool.h"
#include "keel/engine/executor.h"
#include "keel/memory/device.h"
#include "keel/model/runtime.h"

namespace keel::cli {

struct ModelCliOptions {
  std::string model_dir;
  std::string memory_limit;  // "" = what the machine has (cgroup, MemAvailable) minus headroom
  double kv_cache_fraction = 0.9;
  int64_t max_batch_tokens = 2048;
  int64_t max_context = 0;  // 0 = the model's
  std::string kv_dtype;     // "" = the weights' dtype
  int block_size = 16;
  int threads = 0;          // 0 = the CPUs this process may use
  std::string isa;          // "" = the best this CPU has
  std::string gemm_precision = "auto";  // backend::GemmPrecision
  int tp = 1;               // tensor-parallel ranks (serve, chat)
};

// Registers --model, --memory-limit, --kv-cache-fraction, --max-batch-tokens,
// --max-context, --kv-dtype, --block-size, --threads, --isa,
// --gemm-precision on `cmd`.
void add_model_options(CLI::App* cmd, ModelCliOptions& o);

// Registers --tp on `cmd` (the commands that run the engine).
void add_tp_option(CLI::App* cmd, ModelCliOptions& o);

// What a started model needs to stay alive: its device (budget), its thread
// pool and the runtime. Destroy in reverse order (members do).
struct LoadedModel {
  std::unique_ptr<memory::CpuDevice> device;
  std::unique_ptr<ThreadPool> pool;
  model::Runtime runtime;
  double load_seconds = 0;
};

// Builds the device budget (logging how it was chosen), the pool, and starts
// the runtime. `max_kv_tokens` caps the KV pool (0 = the fraction decides);
// `context_cap` lowers the context when the model's is larger (0 = none).
Result<LoadedModel> load_model(const ModelCliOptions& o, int64_t max_kv_tokens,
                               int64_t context_cap, int64_t max_logit_rows);

// An engine executor for `o`: a ModelExecutor over load_model() for --tp 1,
// a TpExecutor of o.tp ranks (each with --memory-limit / N and --threads / N)
// otherwise. rank0 is the runtime reports and eos ids come from; budgets are
// every rank's (for the memory monitor).
struct LoadedExecutor {
  std::unique_ptr<memory::CpuDevice> device;  // --tp 1
  std::unique_ptr<ThreadPool> pool;           // --tp 1
  std::unique_ptr<engine::Executor> executor;
  const model::Runtime* rank0 = nullptr;
  std::vector<memory::MemoryBudget*> budgets;
  uint64_t budget_bytes = 0;  // the whole budget
  double load_seconds = 0;
};
// `collective_timeout`: each TP step's deadline (longer than the engine's
// step timeout, so the watchdog reports a stall first).
Result<LoadedExecutor> load_executor(const ModelCliOptions& o, int64_t max_logit_rows,
                                     std::chrono::milliseconds collective_timeout);

}  // namespace keel::cli
