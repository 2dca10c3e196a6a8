// kernels_bench: speed of the CPU kernels against this machine's memory
// bandwidth. Plain main (no timing framework) so each number is explained.
//
//   kernels_bench [bw] [overhead] [gemv] [gemm] [--threads=N] [--isa=NAME[,NAME...]]
//                 [--models=qwen,llama] [--reps=N]
// With no section named, runs all. Without --isa: KEEL_CPU_ISA or the best. Sections:
//   bw        memory read bandwidth, 1 and 2 threads, 1 GiB buffer (best, median)
//   overhead  cost of one kernel call's pool round trip (median, p90 per call):
//             inline, old mode (parallel_for), compute mode back to back and
//             after a 1 ms idle gap
//   gemv      one decode step's matmuls (n_tokens = 1), f16 and bf16: time,
//             bytes read, GB/s, % of measured bandwidth, tok/s
//   gemm      prefill-512 matmuls (every layer, no lm_head): time, GFLOP/s, tok/s
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "keel/backend/cpu/kernels.h"
#include "keel/backend/cpu/parallel.h"
#include "keel/backend/cpu_features.h"

namespace {

using keel::backend::CpuKernels;
using keel::backend::DType;
using keel::backend::Isa;
using keel::backend::WeightView;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds used by the whole process (all threads).
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The machine is shared: wall time includes time our threads waited for a
// core. `cpu_wall` = process CPU time / threads is the wall time the run
// would take with its cores to itself (an estimate: memory bandwidth and
// caches are still shared). Both are reported.
struct Sample {
  double wall = 0;
  double cpu_wall = 0;
};

template <typename F>
Sample time_it(int threads, F&& f) {
  const auto t0 = Clock::now();
  const double c0 = process_cpu_seconds();
  f();
  return {seconds_since(t0), (process_cpu_seconds() - c0) / threads};
}

double load_average() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

struct Stats {
  double best = 0, median = 0;
};

// Stats over samples of "higher is better" values.
Stats stats_max(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.back(), v[v.size() / 2]};
}
// Stats over samples of times (best = smallest).
Stats stats_min(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2]};
}

// ---- (a) memory bandwidth ---------------------------------------------------

__attribute__((target("avx2"))) float read_sum_avx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

Stats measure_bandwidth(const float* buf, size_t n, int threads, int reps) {
  std::vector<double> gbs;
  volatile float sink = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<float> partial(static_cast<size_t>(threads));
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    const size_t per = n / static_cast<size_t>(threads) / 32 * 32;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] { partial[t] = read_sum_avx2(buf + per * t, per); });
    }
    for (auto& t : ts) t.join();
    const double s = seconds_since(t0);
    sink = sink + partial[0];
    gbs.push_back(static_cast<double>(per * threads * sizeof(float)) / s / 1e9);
  }
  return stats_max(gbs);
}

Stats g_bw2{24, 24};  // 2-thread bandwidth; replaced by the measurement when run

void bench_bandwidth(int reps) {
  const size_t n = (size_t{1} << 30) / sizeof(float);  // 1 GiB
  float* buf = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  for (size_t i = 0; i < n; ++i) buf[i] = 1.0f;
  for (int threads : {1, 2}) {
    const Stats s = measure_bandwidth(buf, n, threads, reps);
    std::printf("bandwidth  threads=%d  best %.1f GB/s  median %.1f GB/s  (1 GiB, %d reps)\n",
                threads, s.best, s.median, reps);
    if (threads == 2) g_bw2 = s;
  }
  std::free(buf);
}

// ---- (b) pool overhead ------------------------------------------------------

// Percentile of a sample (sorted copy), p in [0, 1].
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// The pre-compute-mode parallel_chunks path, kept as a baseline: a task-owning
// std::function on ThreadPool::parallel_for (the caller only waits), a
// shared_ptr'd cancel state, and a yield loop for running chunks on a deadline.
keel::Status old_mode_chunks(keel::ThreadPool* pool, int64_t n, int64_t chunks,
                             const std::function<void(int64_t, int64_t)>& fn) {
  struct CallState {
    std::atomic<int> running{0};
    std::atomic<bool> cancelled{false};
  };
  const int64_t per = (n + chunks - 1) / chunks;
  auto state = std::make_shared<CallState>();
  const std::function<void(int64_t, int64_t)>* f = &fn;
  auto task = [state, f, per, n](size_t c) {
    state->running.fetch_add(1);
    if (!state->cancelled.load()) {
      const int64_t b = static_cast<int64_t>(c) * per;
      (*f)(b, std::min(n, b + per));
    }
    state->running.fetch_sub(1);
  };
  keel::Status s = pool->parallel_for(static_cast<size_t>((n + per - 1) / per), task,
                                      keel::Deadline::after_ms(10'000));
  if (!s.ok()) {
    state->cancelled.store(true);
    while (state->running.load() != 0) std::this_thread::yield();
  }
  return s;
}

// Synthetic kernel work: item i of [b, e) runs a dependent multiply-add chain
// of `iters` steps (compute-bound, so it scales with threads on any machine).
void chain_work(float* sink, int64_t b, int64_t e, int iters) {
  for (int64_t i = b; i < e; ++i) {
    float x = sink[i];
    for (int k = 0; k < iters; ++k) x = x * 0.999f + 0.5f;
    sink[i] = x;
  }
}

// One kernel call's round trip through the pool. Every call is timed on its
// own; reported are the median and p90 over the calls (after a warm-up).
//   inline        parallel_chunks without a pool (the floor)
//   old mode      old_mode_chunks above (ThreadPool::parallel_for)
//   compute b2b   parallel_chunks (ThreadPool::run_chunks), back to back, as
//                 a decode step's per-layer kernel calls are
//   compute idle  the same after a 1 ms idle gap (helpers have stopped
//                 spinning and sleep on the condition variable): a wake-up
// Two work sizes: 64 floats (no work: the pure round trip), and 64 items of
// synthetic compute calibrated to ~100 us inline, the size of a decode-step
// matmul; for that one "over ideal" = median - inline median / threads.
void bench_overhead(keel::ThreadPool* pool) {
  const int threads = pool->num_threads();
  std::vector<float> sink(64, 1.0f);
  // Calibrate `iters` so that 64 items take ~100 us on one thread (best of 20).
  int iters = 1024;
  {
    double best = 1e9;
    for (int r = 0; r < 20; ++r) {
      const auto t0 = Clock::now();
      chain_work(sink.data(), 0, 64, iters);
      best = std::min(best, seconds_since(t0));
    }
    iters = std::max(16, static_cast<int>(iters * 100e-6 / best));
  }
  enum Mode { kInline, kOld, kCompute, kComputeIdle };
  struct Variant {
    Mode mode;
    int64_t chunks;
    const char* name;
  };
  const Variant variants[] = {{kInline, 1, "inline (no pool)"},
                              {kOld, 2, "old mode, 2 chunks"},
                              {kOld, 8, "old mode, 8 chunks"},
                              {kCompute, 2, "compute b2b, 2 chunks"},
                              {kCompute, 8, "compute b2b, 8 chunks"},
                              {kComputeIdle, 2, "compute 1ms idle, 2 chunks"},
                              {kComputeIdle, 8, "compute 1ms idle, 8 chunks"}};
  for (const int work_iters : {0, iters}) {
    // Chunks run on a thread other than the caller's (the helpers' share).
    std::atomic<int64_t> chunks_total{0}, chunks_helped{0};
    const auto caller = std::this_thread::get_id();
    auto work = [&, work_iters](int64_t b, int64_t e) {
      chunks_total.fetch_add(1, std::memory_order_relaxed);
      if (std::this_thread::get_id() != caller) {
        chunks_helped.fetch_add(1, std::memory_order_relaxed);
      }
      if (work_iters == 0) {
        for (int64_t i = b; i < e; ++i) sink[static_cast<size_t>(i)] += 1.0f;
      } else {
        chain_work(sink.data(), b, e, work_iters);
      }
    };
    const std::function<void(int64_t, int64_t)> fn = work;  // old mode's type
    const int calls = work_iters == 0 ? 4000 : 1000, idle_calls = 500;
    if (work_iters == 0) {
      std::printf("pool round trip, %d threads, 64 floats of work (per-call wall time):\n",
                  threads);
    } else {
      std::printf("pool round trip, %d threads, 64 items x %d-step multiply-add chain:\n", threads,
                  work_iters);
    }
    double inline_median = 0;
    for (const Variant& v : variants) {
      const int n_calls = v.mode == kComputeIdle ? idle_calls : calls;
      std::vector<double> us;
      us.reserve(static_cast<size_t>(n_calls));
      chunks_total = 0;
      chunks_helped = 0;
      for (int c = -n_calls / 10; c < n_calls; ++c) {  // first 10 % is warm-up
        if (v.mode == kComputeIdle) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const auto t0 = Clock::now();
        keel::Status s;
        switch (v.mode) {
          case kInline:
            s = keel::backend::cpu::parallel_chunks(nullptr, 64, 1, 1, work,
                                                    keel::Deadline::after_ms(10'000));
            break;
          case kOld:
            s = old_mode_chunks(pool, 64, v.chunks, fn);
            break;
          case kCompute:
          case kComputeIdle:
            s = keel::backend::cpu::parallel_chunks(pool, 64, 1, 64 / v.chunks, work,
                                                    keel::Deadline::after_ms(10'000));
            break;
        }
        const double t = seconds_since(t0) * 1e6;
        if (!s.ok()) std::printf("overhead: %s\n", s.to_string().c_str());
        if (c >= 0) us.push_back(t);
      }
      const double median = percentile(us, 0.5);
      if (v.mode == kInline) inline_median = median;
      char over[64] = "";
      if (work_iters != 0 && v.mode != kInline) {
        std::snprintf(over, sizeof over, "  over ideal %7.2f us", median - inline_median / threads);
      }
      std::printf(
          "  %-27s median %8.2f us  p90 %8.2f us  best %7.2f us%s  helpers ran %3.0f%% of chunks  "
          "(%d calls)  [load %.1f]\n",
          v.name, median, percentile(us, 0.9), percentile(us, 0.0), over,
          100.0 * static_cast<double>(chunks_helped.load()) /
              static_cast<double>(std::max<int64_t>(1, chunks_total.load())),
          n_calls, load_average());
    }
  }
}

// ---- model shapes -------------------------------------------------------------

struct ModelShape {
  const char* name;
  int64_t hidden, intermediate, n_heads, n_kv_heads, head_dim, vocab, n_layers;
  bool qkv_bias;
};

constexpr ModelShape kQwen05{"Qwen2.5-0.5B", 896, 4864, 14, 2, 64, 151936, 24, true};
constexpr ModelShape kLlama1B{"Llama-3.2-1B", 2048, 8192, 32, 8, 64, 128256, 16, false};

struct Linear {
  int64_t out, in;
  bool bias;
};

std::vector<Linear> layer_linears(const ModelShape& m) {
  const int64_t q = m.n_heads * m.head_dim, kv = m.n_kv_heads * m.head_dim;
  return {{q, m.hidden, m.qkv_bias},        {kv, m.hidden, m.qkv_bias},
          {kv, m.hidden, m.qkv_bias},       {m.hidden, q, false},
          {m.intermediate, m.hidden, false}, {m.intermediate, m.hidden, false},
          {m.hidden, m.intermediate, false}};
}

// All weights of a model in one dtype, one buffer per matrix (no reuse
// between layers, as in a real model). Filled with 1.0 in that dtype.
struct ModelWeights {
  struct Mat {
    std::unique_ptr<uint16_t[]> data16;
    std::unique_ptr<float[]> data32;
    WeightView view;
    std::vector<float> bias;  // (out) or empty
  };
  std::vector<Mat> layers;  // n_layers * 7
  Mat lm_head;
  size_t bytes_layers = 0;
  size_t bytes_lm_head = 0;
};

ModelWeights::Mat make_mat(int64_t out, int64_t in, DType t, bool bias) {
  ModelWeights::Mat m;
  const size_t n = static_cast<size_t>(out * in);
  if (t == DType::kF32) {
    m.data32.reset(new float[n]);
    std::fill_n(m.data32.get(), n, 1.0f);
    m.view = {m.data32.get(), t, out, in};
  } else {
    m.data16.reset(new uint16_t[n]);
    std::fill_n(m.data16.get(), n, t == DType::kF16 ? uint16_t{0x3c00} : uint16_t{0x3f80});
    m.view = {m.data16.get(), t, out, in};
  }
  if (bias) m.bias.assign(static_cast<size_t>(out), 0.5f);
  return m;
}

ModelWeights make_model(const ModelShape& s, DType t) {
  ModelWeights w;
  for (int64_t l = 0; l < s.n_layers; ++l) {
    for (const Linear& lin : layer_linears(s)) {
      w.layers.push_back(make_mat(lin.out, lin.in, t, lin.bias));
      w.bytes_layers += static_cast<size_t>(lin.out * lin.in) * keel::backend::dtype_bytes(t);
    }
  }
  w.lm_head = make_mat(s.vocab, s.hidden, t, false);
  w.bytes_lm_head = static_cast<size_t>(s.vocab * s.hidden) * keel::backend::dtype_bytes(t);
  return w;
}

// Runs every layer matmul (and the lm_head on one token if with_head) once.
bool run_matmuls(const CpuKernels& k, const ModelWeights& w, int64_t n_tokens, bool with_head,
                 const float* x, float* y) {
  for (const auto& m : w.layers) {
    auto s = k.matmul(x, n_tokens, m.view, m.bias.empty() ? nullptr : m.bias.data(), y);
    if (!s.ok()) {
      std::printf("matmul failed: %s\n", s.to_string().c_str());
      return false;
    }
  }
  if (with_head) {
    auto s = k.matmul(x, 1, w.lm_head.view, nullptr, y);
    if (!s.ok()) return false;
  }
  return true;
}

void bench_gemv(const CpuKernels& k, const ModelShape& s, DType t, int reps, const char* label) {
  const ModelWeights w = make_model(s, t);
  std::vector<float> x(static_cast<size_t>(std::max(s.intermediate, s.vocab)), 0.01f);
  std::vector<float> y(x.size());
  run_matmuls(k, w, 1, true, x.data(), y.data());  // warm-up (page in)
  std::vector<double> walls, cpus;
  for (int r = 0; r < reps; ++r) {
    const Sample smp = time_it(k.num_threads(), [&] { run_matmuls(k, w, 1, true, x.data(), y.data()); });
    walls.push_back(smp.wall);
    cpus.push_back(smp.cpu_wall);
  }
  const Stats st = stats_min(walls);
  const Stats sc = stats_min(cpus);
  const double bytes = static_cast<double>(w.bytes_layers + w.bytes_lm_head);
  std::printf(
      "gemv  %-13s %-4s %-10s %d thr  step wall best %6.1f ms med %6.1f ms | cpu-time/thr best %6.1f "
      "ms | %4.2f GB  wall %5.1f GB/s (%3.0f%% of bw median %.1f)  cpu %5.1f GB/s  %5.1f tok/s wall  "
      "[load %.1f]\n",
      s.name, std::string(keel::backend::dtype_name(t)).c_str(), label, k.num_threads(),
      st.best * 1e3, st.median * 1e3, sc.best * 1e3, bytes / 1e9, bytes / st.best / 1e9,
      100 * bytes / st.best / 1e9 / g_bw2.median, g_bw2.median, bytes / sc.best / 1e9,
      1.0 / st.best, load_average());
}

void bench_gemm(const CpuKernels& k, const ModelShape& s, DType t, int reps, const char* label) {
  const int64_t n_tokens = 512;
  const ModelWeights w = make_model(s, t);
  const int64_t widest = std::max(s.intermediate, s.n_heads * s.head_dim);
  std::vector<float> x(static_cast<size_t>(n_tokens * widest), 0.01f);  // (512, widest)
  std::vector<float> y(x.size());
  std::vector<double> walls, cpus;
  for (int r = 0; r < reps; ++r) {
    const Sample smp =
        time_it(k.num_threads(), [&] { run_matmuls(k, w, n_tokens, false, x.data(), y.data()); });
    walls.push_back(smp.wall);
    cpus.push_back(smp.cpu_wall);
  }
  const Stats st = stats_min(walls);
  const Stats sc = stats_min(cpus);
  const double flops = 2.0 * n_tokens * static_cast<double>(w.bytes_layers) /
                       static_cast<double>(keel::backend::dtype_bytes(t));
  std::printf(
      "gemm  %-13s %-4s %-10s %d thr  prefill-512 matmuls wall best %7.1f ms med %7.1f ms | "
      "cpu-time/thr %7.1f ms | wall %6.1f GFLOP/s %6.1f tok/s | cpu %6.1f GFLOP/s %6.1f tok/s  "
      "[load %.1f]\n",
      s.name, std::string(keel::backend::dtype_name(t)).c_str(), label, k.num_threads(),
      st.best * 1e3, st.median * 1e3, sc.best * 1e3, flops / st.best / 1e9, n_tokens / st.best,
      flops / sc.best / 1e9, n_tokens / sc.best, load_average());
}

bool has_arg(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

std::string arg_value(const std::vector<std::string>& args, const std::string& key,
                      const std::string& def) {
  for (const auto& a : args) {
    if (a.rfind(key + "=", 0) == 0) return a.substr(key.size() + 1);
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // line-buffered: progress shows when piped
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool all = !has_arg(args, "bw") && !has_arg(args, "overhead") && !has_arg(args, "gemv") &&
                   !has_arg(args, "gemm");
  const int threads = std::stoi(arg_value(args, "--threads", "2"));
  const int reps = std::stoi(arg_value(args, "--reps", "5"));
  const std::string models = arg_value(args, "--models", "qwen,llama");
  std::printf("cpu features: %s\n", keel::backend::cpu_features().to_string().c_str());

  keel::ThreadPool pool(threads);
  std::vector<Isa> isas;
  const std::string isa_arg = arg_value(args, "--isa", "");
  if (isa_arg.empty()) {
    auto r = keel::backend::default_isa();  // best, or KEEL_CPU_ISA
    if (!r.ok()) {
      std::printf("%s\n", r.status().to_string().c_str());
      return 2;
    }
    isas.push_back(*r);
  } else {
    size_t at = 0;
    while (at <= isa_arg.size()) {
      const size_t comma = std::min(isa_arg.find(',', at), isa_arg.size());
      auto r = keel::backend::parse_isa(isa_arg.substr(at, comma - at));
      if (!r.ok()) {
        std::printf("%s\n", r.status().to_string().c_str());
        return 2;
      }
      isas.push_back(*r);
      at = comma + 1;
    }
  }

  if (all || has_arg(args, "bw")) bench_bandwidth(std::max(reps, 5));
  if (all || has_arg(args, "overhead")) bench_overhead(&pool);
  std::vector<const ModelShape*> shapes;
  if (models.find("qwen") != std::string::npos) shapes.push_back(&kQwen05);
  if (models.find("llama") != std::string::npos) shapes.push_back(&kLlama1B);
  for (Isa isa : isas) {
    auto k = CpuKernels::create(isa, &pool);
    if (!k.ok()) {
      std::printf("%s\n", k.status().to_string().c_str());
      return 2;
    }
    const std::string label(keel::backend::isa_name(isa));
    for (const ModelShape* s : shapes) {
      for (DType t : {DType::kF16, DType::kBF16}) {
        if (all || has_arg(args, "gemv")) bench_gemv(*k, *s, t, reps, label.c_str());
        if (all || has_arg(args, "gemm")) bench_gemm(*k, *s, t, std::max(1, reps / 3), label.c_str());
      }
    }
  }
  return 0;
}
