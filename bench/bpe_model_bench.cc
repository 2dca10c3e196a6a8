// Micro-benchmark of a tokenizer.json model alone (no normalizer or
// pre-tokenizer): tokens/s and MB/s over pre-split pieces of real text.
//
// usage: bpe_model_bench TOKENIZER_JSON [raw|text|spm] TEXT_FILE...
//   raw:  byte-level mode; pieces are raw bytes " word" (Llama-3, Qwen3)
//   text: pieces are " word" as UTF-8 characters
//   spm:  pieces are "▁word" (SentencePiece-style BPE, e.g. Mistral)
// Pieces are the files' text split on ASCII whitespace, each with its
// leading space (or ▁) attached, as a GPT-style pre-tokenizer would give.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "keel/tokenizer/factories.h"

namespace {

// CPU time of this thread: the machine may be shared, and descheduled time
// would otherwise count against the model.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TOKENIZER_JSON raw|text|spm TEXT_FILE...\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[2];
  std::ifstream tf(argv[1]);
  const nlohmann::json tok = nlohmann::json::parse(tf, nullptr, /*allow_exceptions=*/false);
  if (tok.is_discarded() || !tok.contains("model")) {
    std::fprintf(stderr, "cannot parse %s\n", argv[1]);
    return 1;
  }
  keel::tokenizer::StageOptions options;
  options.byte_level_raw = mode == "raw";
  const double t_load = thread_cpu_seconds();
  auto model = keel::tokenizer::make_model(tok["model"], "$.model", options);
  const double load_ms = (thread_cpu_seconds() - t_load) * 1e3;
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().to_string().c_str());
    return 1;
  }
  const std::string space = mode == "spm" ? "\xE2\x96\x81" : " ";
  std::vector<std::string> pieces;
  size_t bytes = 0;
  for (int i = 3; i < argc; ++i) {
    std::ifstream in(argv[i]);
    std::string word;
    while (in >> word) {
      pieces.push_back(space + word);
      bytes += pieces.back().size();
    }
  }
  std::vector<uint32_t> ids;
  ids.reserve(1 << 20);
  double best_s = 1e9, first_s = 0;
  size_t num_tokens = 0;
  const char* reps_env = std::getenv("KEEL_BENCH_REPS");
  const int reps = reps_env ? std::max(1, std::atoi(reps_env)) : 10;
  for (int rep = 0; rep < reps; ++rep) {
    ids.clear();
    const double t0 = thread_cpu_seconds();
    for (const std::string& p : pieces) {
      if (!(*model)->tokenize(p, ids).ok()) return 1;
    }
    const double s = thread_cpu_seconds() - t0;
    if (rep == 0) first_s = s;  // cold per-thread piece cache
    best_s = std::min(best_s, s);
    num_tokens = ids.size();
  }
  std::printf("load %.0f ms CPU; %zu pieces, %.2f MB, %zu tokens\n", load_ms, pieces.size(),
              bytes / 1e6, num_tokens);
  std::printf("thread CPU time: first pass (cold cache) %.1f MB/s; best of %d: %.1f MB/s, "
              "%.2f M tokens/s\n",
              bytes / 1e6 / first_s, reps, bytes / 1e6 / best_s, num_tokens / 1e6 / best_s);
  return 0;
}
