// keel bench: prefill and decode speed of a model folder, in the spirit of
// llama-bench (pp = prompt processing, tg = text generation from an empty
// context), next to this machine's memory read bandwidth measured in the same
// run, so decode speed is reported as a fraction of its physical ceiling.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "keel/backend/cpu/bandwidth.h"
#include "keel/cli/commands.h"
#include "keel/cli/model_options.h"
#include "keel/memory/block_table.h"
#include "keel/memory/bytes.h"

namespace keel::cli {
namespace {

struct BenchOptions {
  ModelCliOptions model;
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 128;
  int reps = 5;
  bool json = false;
  uint32_t seed = 1;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Summary {
  double median = 0;
  double best = 0;  // largest
};

Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.back()};
}

// Bytes of weights one decode token reads: every layer matrix and the
// lm_head (the embedding is one row per token).
uint64_t decode_weight_bytes(const model::ModelWeights& w) {
  auto bytes = [](const backend::WeightView& v) {
    return static_cast<uint64_t>(v.rows) * static_cast<uint64_t>(v.cols) * backend::dtype_bytes(v.dtype);
  };
  uint64_t total = bytes(w.lm_head);
  for (const model::LayerWeights& l : w.layers) {
    total += bytes(l.qkv) + bytes(l.o) + bytes(l.gate_up) + bytes(l.down);
  }
  return total;
}

// Runs `tokens` through a fresh sequence: as prefill chunks of at most
// `chunk` tokens, or (chunk == 1) one token per step. Returns seconds.
Result<double> run_sequence(model::Runtime& rt, const std::vector<int32_t>& tokens, int64_t chunk) {
  memory::BlockTable table(rt.kv_pool->shape().block_size_tokens);
  const auto t0 = std::chrono::steady_clock::now();
  Status status;
  for (size_t pos = 0; pos < tokens.size() && status.ok();) {
    const size_t n = std::min(tokens.size() - pos, static_cast<size_t>(chunk));
    status = table.append_tokens(static_cast<int64_t>(n), *rt.kv_pool);
    if (!status.ok()) break;
    model::SequenceStep step;
    step.tokens = std::span<const int32_t>(tokens).subspan(pos, n);
    step.start_pos = static_cast<int64_t>(pos);
    step.block_table = table.blocks();
    step.logits = model::LogitsWanted::kLast;
    auto r = rt.model->forward({&step, 1}, *rt.kv_pool);
    status = r.status();
    pos += n;
  }
  const double sec = seconds_since(t0);
  KEEL_RETURN_IF_ERROR(table.release(*rt.kv_pool));
  KEEL_RETURN_IF_ERROR(status);
  return sec;
}

int run_bench(const BenchOptions& o) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "keel bench: %s\n", s.to_string().c_str());
    return 1;
  };
  const int64_t total = o.prompt_tokens + o.gen_tokens;
  ModelCliOptions mo = o.model;  // a step never needs more than the prompt
  mo.max_batch_tokens = std::clamp<int64_t>(o.prompt_tokens, 1, mo.max_batch_tokens);
  auto loaded = load_model(mo, total, total, 1);
  if (!loaded.ok()) return fail(loaded.status());
  model::Runtime& rt = loaded->runtime;

  // Bandwidth: a buffer far larger than the caches, from the same budget.
  const uint64_t free_bytes = loaded->device->budget().free_bytes();
  const uint64_t probe_bytes = std::min<uint64_t>(uint64_t{512} << 20, free_bytes / 2);
  if (probe_bytes < (uint64_t{64} << 20)) {
    return fail(ResourceExhaustedError(
        "{} left after loading; the bandwidth probe needs 64 MiB: raise --memory-limit",
        memory::format_bytes(free_bytes)));
  }
  // The probe runs next to every decode repetition (the buffer stays
  // allocated), so a neighbour's load on a shared machine weighs on both.
  auto probe_buf = loaded->device->allocate(probe_bytes, "bandwidth probe");
  if (!probe_buf.ok()) return fail(probe_buf.status());
  std::memset(probe_buf->data(), 1, probe_bytes);
  auto probe = [&]() -> Result<backend::BandwidthResult> {
    return backend::measure_read_bandwidth(probe_buf->data(), probe_bytes, 3, loaded->pool.get());
  };

  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(rt.config.vocab_size - 1));
  auto random_tokens = [&](int64_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (auto& t : v) t = id(rng);
    return v;
  };
  // Warm-up: page in the weights and wake the threads.
  if (auto w = run_sequence(rt, random_tokens(16), std::min<int64_t>(16, mo.max_batch_tokens)); !w.ok()) {
    return fail(w.status());
  }
  const uint64_t bytes_per_token = decode_weight_bytes(rt.model->weights());
  std::vector<double> pp;
  std::vector<double> tg;
  std::vector<double> bw_median;  // GB/s, one probe per repetition
  double bw_best = 0;
  std::vector<double> fraction;   // tg / (bandwidth / bytes per token), same repetition
  for (int r = 0; r < o.reps; ++r) {
    if (o.prompt_tokens > 0) {
      auto s = run_sequence(rt, random_tokens(o.prompt_tokens), mo.max_batch_tokens);
      if (!s.ok()) return fail(s.status());
      pp.push_back(static_cast<double>(o.prompt_tokens) / *s);
    }
    auto bw = probe();
    if (!bw.ok()) return fail(bw.status());
    bw_median.push_back(bw->median_gb_per_s);
    bw_best = std::max(bw_best, bw->best_gb_per_s);
    if (o.gen_tokens > 0) {
      auto s = run_sequence(rt, random_tokens(o.gen_tokens), 1);
      if (!s.ok()) return fail(s.status());
      tg.push_back(static_cast<double>(o.gen_tokens) / *s);
      fraction.push_back(tg.back() * static_cast<double>(bytes_per_token) /
                         (bw->median_gb_per_s * 1e9));
    }
  }
  const double bw_gb_s = summarize(bw_median).median;
  const double ceiling = bw_gb_s * 1e9 / static_cast<double>(bytes_per_token);
  const std::string isa(backend::isa_name(rt.model->kernels().isa()));
  const std::string dtype(backend::dtype_name(rt.weights.matrix_dtype));
  nlohmann::json j;
  j["model"] = o.model.model_dir;
  j["architecture"] = std::string(model::architecture_name(rt.config.arch));
  j["parameters"] = rt.weights.num_parameters;
  j["weights_bytes"] = rt.weights.bytes;
  j["dtype"] = dtype;
  j["isa"] = isa;
  j["threads"] = loaded->pool->num_threads();
  j["reps"] = o.reps;
  j["load_seconds"] = loaded->load_seconds;
  j["bandwidth_gb_per_s"] = {{"median", bw_gb_s}, {"best", bw_best}, {"bytes", probe_bytes}};
  j["decode_bytes_per_token"] = bytes_per_token;
  j["decode_ceiling_tok_per_s"] = ceiling;
  std::string table = fmt::format(
      "| model | params | weights | isa | threads | test | tok/s (median) | tok/s (best) |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  const std::string name = fmt::format("{} {}", model::architecture_name(rt.config.arch), dtype);
  const std::string params = memory::format_count(rt.weights.num_parameters);
  const std::string wbytes = memory::format_bytes(rt.weights.bytes);
  if (!pp.empty()) {
    const Summary t = summarize(pp);
    j["prefill"] = {{"tokens", o.prompt_tokens}, {"median_tok_per_s", t.median},
                    {"best_tok_per_s", t.best}};
    table += fmt::format("| {} | {} | {} | {} | {} | pp{} | {:.1f} | {:.1f} |\n", name, params,
                         wbytes, isa, loaded->pool->num_threads(), o.prompt_tokens, t.median,
                         t.best);
  }
  std::string tail;
  if (!tg.empty()) {
    const Summary t = summarize(tg);
    j["decode"] = {{"tokens", o.gen_tokens}, {"median_tok_per_s", t.median},
                   {"best_tok_per_s", t.best},
                   {"fraction_of_ceiling", summarize(fraction).median}};
    table += fmt::format("| {} | {} | {} | {} | {} | tg{} | {:.1f} | {:.1f} |\n", name, params,
                         wbytes, isa, loaded->pool->num_threads(), o.gen_tokens, t.median,
                         t.best);
    tail = fmt::format(
        "decode reads {} of weights per token; memory read bandwidth {:.1f} GB/s median, {:.1f} "
        "best ({} threads, {}, probed before each tg run) -> ceiling {:.1f} tok/s; tg{} = {:.0f}% "
        "of the ceiling (median over repetitions of tg / the ceiling probed next to it)\n",
        memory::format_bytes(bytes_per_token), bw_gb_s, bw_best, loaded->pool->num_threads(),
        memory::format_bytes(probe_bytes), ceiling, o.gen_tokens,
        100.0 * summarize(fraction).median);
  }
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s\n%s", table.c_str(), tail.c_str());
  }
  return 0;
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "prefill and decode tokens/s vs memory bandwidth");
  add_model_options(cmd, o->model);
  cmd->add_option("-p,--prompt-tokens", o->prompt_tokens, "prompt tokens per prefill test (0: skip)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("-n,--gen-tokens", o->gen_tokens, "tokens generated per decode test (0: skip)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("-r,--reps", o->reps, "repetitions (the median is reported)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--seed", o->seed, "seed of the random prompt tokens");
  cmd->add_flag("--json", o->json, "print one JSON object");
  return [o] {
    if (o->prompt_tokens + o->gen_tokens == 0) {
      std::fprintf(stderr, "keel bench: -p and -n are both 0; nothing to measure\n");
      return 2;
    }
    return run_bench(*o);
  };
}

}  // namespace keel::cli
