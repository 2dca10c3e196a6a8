// Helpers for model tests: the numpy reference (tools/reference_model.py),
// a runtime on a small CPU budget, and runs of keel's forward pass in the
// shapes the engine uses (whole prefill, chunked prefill, one-token decode,
// mixed batches).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "keel/memory/block_table.h"
#include "keel/memory/device.h"
#include "keel/model/make_model.h"
#include "keel/model/runtime.h"

namespace keel::testing {

namespace fs = std::filesystem;

inline std::string source_dir() {
  const char* src = std::getenv("KEEL_SOURCE_DIR");
  return src != nullptr ? src : ".";
}

inline std::optional<fs::path> stories260k_dir() {
  for (const fs::path& c : {fs::path(source_dir()) / ".." / "shared" / "models" / "stories260K",
                            fs::path("/work/shared/models/stories260K")}) {
    if (fs::exists(c / "model.safetensors") && fs::exists(c / "config.json")) return c;
  }
  return std::nullopt;
}

// True if Debian's python3 with numpy can run the reference.
inline bool have_reference() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return ok;
}

// Reference logits (n_tokens, vocab) of every position, computed in float64.
inline std::vector<float> reference_logits(const std::string& model_dir,
                                           const std::vector<int32_t>& tokens) {
  std::string ids;
  for (int32_t t : tokens) ids += (ids.empty() ? "" : ",") + std::to_string(t);
  const fs::path out = fs::temp_directory_path() /
                       ("keel_ref_" + std::to_string(::getpid()) + "_" +
                        std::to_string(std::hash<std::string>{}(model_dir + ids)) + ".bin");
  const std::string cmd = "/usr/bin/python3 " + source_dir() + "/tools/reference_model.py --model '" +
                          model_dir + "' --tokens " + ids + " --out '" + out.string() + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out, std::ios::binary);
  std::vector<float> v;
  float x;
  while (in.read(reinterpret_cast<char*>(&x), sizeof x)) v.push_back(x);
  fs::remove(out);
  return v;
}

// max |a - b| / max(1, max |b|) over the rows [row_begin, row_end) of b.
inline double relative_error(const float* a, const float* b, size_t n) {
  double max_abs_b = 1.0;
  double max_diff = 0.0;
  for (size_t i = 0; i < n; ++i) {
    max_abs_b = std::max(max_abs_b, std::fabs(static_cast<double>(b[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    if (!std::isfinite(a[i])) return INFINITY;
  }
  return max_diff / max_abs_b;
}

// The "tiny" preset of `arch` in f32 with a 300-token vocabulary: the random
// models the architecture tests generate.
inline model::MakeModelSpec tiny_f32_spec(model::ModelArch arch, uint64_t seed) {
  model::MakeModelSpec s = *model::preset_spec(arch, "tiny");
  s.dtype = model::DType::kF32;
  s.vocab_size = 300;
  s.seed = seed;
  return s;
}

// A runtime on its own CPU budget, with sequences that own block tables.
class ModelHarness {
 public:
  explicit ModelHarness(const std::string& dir, memory::KvDtype kv = memory::KvDtype::kF32,
                        int block_size = 4, uint64_t budget = uint64_t{4} << 30,
                        backend::GemmPrecision gemm = backend::GemmPrecision::kAuto)
      : device_(budget) {
    model::RuntimeOptions o;
    o.gemm_precision = gemm;
    o.model_dir = dir;
    o.kv_dtype = kv;
    o.block_size_tokens = block_size;
    o.model.max_batch_tokens = 512;
    o.model.max_logit_rows = 512;
    o.model.max_context_tokens = 512;
    o.max_kv_tokens = 4096;
    auto rt = model::start_runtime(o, device_);
    status_ = rt.status();
    if (rt.ok()) rt_ = std::move(rt).value();
  }
  ~ModelHarness() {
    for (auto& t : tables_) EXPECT_TRUE(t.release(*rt_.kv_pool).ok());
  }

  const Status& status() const { return status_; }
  model::Model& model() { return *rt_.model; }
  memory::KvBlockPool& pool() { return *rt_.kv_pool; }
  int64_t vocab() const { return rt_.config.vocab_size; }

  // A new empty sequence; returns its index.
  size_t new_sequence() {
    tables_.emplace_back(rt_.kv_pool->shape().block_size_tokens);
    lengths_.push_back(0);
    return tables_.size() - 1;
  }

  struct Part {
    size_t seq;
    std::vector<int32_t> tokens;
    model::LogitsWanted logits = model::LogitsWanted::kAll;
  };
  // One forward step over several sequences; returns the logits rows.
  std::vector<float> step(const std::vector<Part>& parts) {
    std::vector<model::SequenceStep> batch;
    for (const Part& p : parts) {
      EXPECT_TRUE(tables_[p.seq].append_tokens(static_cast<int64_t>(p.tokens.size()), pool()).ok());
      model::SequenceStep s;
      s.tokens = p.tokens;
      s.start_pos = lengths_[p.seq];
      s.block_table = tables_[p.seq].blocks();
      s.logits = p.logits;
      batch.push_back(s);
      lengths_[p.seq] += static_cast<int64_t>(p.tokens.size());
    }
    auto r = rt_.model->forward(batch, pool());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return {};
    return {r->begin(), r->end()};
  }

 private:
  memory::CpuDevice device_;
  Status status_;
  model::Runtime rt_;
  std::vector<memory::BlockTable> tables_;
  std::vector<int64_t> lengths_;
};

}  // namespace keel::testing
