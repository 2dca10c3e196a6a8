// tokenizer_bench: keel's tokenizer throughput on a JSONL corpus, beside C++
// SentencePiece on the same .model file.
//
//   tokenizer_bench --corpus FILE.jsonl [--reps N] [--spm-model FILE.model]
//                   NAME=TOKENIZER_PATH...
//
// Prints one JSON object per measurement (the schema bench/hf_bench.js uses):
//   {"tokenizer", "impl", "mbps", "tokens", "bytes", "runs_s", "threads"}
// impl: keel_1t   encode() each document in turn on this thread
//       keel_nt   encode_batch(all documents) on the global thread pool
//       spm_cpp   sentencepiece::SentencePieceProcessor::Encode each document
// mbps = corpus UTF-8 bytes / 1e6 / median seconds over --reps runs, after a
// warm-up on ~5% of the documents; keel reloads its tokenizer (untimed)
// before each run, so its per-thread piece caches start cold. No special tokens are added. cpu_s: each
// run's process CPU seconds (all threads), steadier than wall time on a
// shared machine.
// With --spm-model, keel is also measured on that .model (NAME "<file>").
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/thread_pool.h"
#include "keel/tokenizer/tokenizer.h"

#ifdef KEEL_BENCH_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace {

using keel::tokenizer::Tokenizer;
using nlohmann::json;

struct Corpus {
  std::vector<std::string> docs;
  std::vector<std::string> warm_docs;  // ~5% prefix, for the warm-up
  size_t bytes = 0;
};

bool load_corpus(const std::string& path, Corpus& corpus) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "tokenizer_bench: cannot open %s\n", path.c_str());
    return false;
  }
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_string()) {
      std::fprintf(stderr, "tokenizer_bench: %s:%zu: expected a JSON string\n", path.c_str(),
                   line_no);
      return false;
    }
    corpus.docs.push_back(j.get<std::string>());
    corpus.bytes += corpus.docs.back().size();
  }
  if (corpus.docs.empty()) {
    std::fprintf(stderr, "tokenizer_bench: %s holds no documents\n", path.c_str());
    return false;
  }
  size_t n_warm = std::max<size_t>(1, corpus.docs.size() / 20);
  corpus.warm_docs.assign(corpus.docs.begin(), corpus.docs.begin() + static_cast<long>(n_warm));
  return true;
}

// A run encodes `docs` and returns the number of tokens, or -1 on error.
using Run = std::function<long(const std::vector<std::string>& docs)>;

// `fresh` (untimed) runs before each rep: keel reloads its tokenizer there.
bool measure(const Corpus& corpus, int reps, const std::string& tokenizer,
             const std::string& impl, int threads, const Run& run,
             const std::function<bool()>& fresh = [] { return true; }) {
  if (run(corpus.warm_docs) < 0) return false;
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  std::vector<double> runs_s, cpu_s;
  long tokens = 0;
  for (int r = 0; r < reps; ++r) {
    if (!fresh()) return false;
    const double c0 = cpu_now();
    auto t0 = std::chrono::steady_clock::now();
    tokens = run(corpus.docs);
    runs_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cpu_s.push_back(cpu_now() - c0);
    if (tokens < 0) return false;
  }
  std::vector<double> sorted = runs_s;
  std::sort(sorted.begin(), sorted.end());
  double median_s = sorted[sorted.size() / 2];
  json rec = {{"tokenizer", tokenizer},
              {"impl", impl},
              {"mbps", static_cast<double>(corpus.bytes) / 1e6 / median_s},
              {"tokens", tokens},
              {"bytes", corpus.bytes},
              {"runs_s", runs_s},
              {"cpu_s", cpu_s},
              {"threads", threads}};
  std::printf("%s\n", rec.dump().c_str());
  std::fflush(stdout);
  return true;
}

// Every rep encodes with a freshly loaded tokenizer: piece-cache entries
// belong to one model instance, so each rep starts cold and a repeated
// corpus measures new text, not the previous rep's memo (a cache as large
// as the corpus's distinct words would otherwise look arbitrarily fast).
bool bench_keel(const Corpus& corpus, int reps, const std::string& name, const std::string& path) {
  std::optional<Tokenizer> tok;
  auto load = [&] {
    tok.reset();
    auto loaded = Tokenizer::from_path(path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "tokenizer_bench: %s: %s\n", path.c_str(),
                   loaded.status().to_string().c_str());
      return false;
    }
    tok.emplace(std::move(loaded).value());
    return true;
  };
  if (!load()) return false;
  // libsentencepiece never matches control symbols written in the text, so
  // compare like with like on .model files.
  keel::tokenizer::EncodeOptions opts;
  opts.add_special_tokens = false;
  opts.split_special_tokens = path.size() >= 6 && path.compare(path.size() - 6, 6, ".model") == 0;
  bool ok = measure(corpus, reps, name, "keel_1t", 1, [&](const std::vector<std::string>& docs) {
    long n = 0;
    for (const std::string& d : docs) {
      auto enc = tok->encode(d, opts);
      if (!enc.ok()) {
        std::fprintf(stderr, "tokenizer_bench: %s\n", enc.status().to_string().c_str());
        return -1L;
      }
      n += static_cast<long>(enc->ids.size());
    }
    return n;
  }, load);
  int threads = keel::ThreadPool::global().num_threads();
  ok = ok && measure(corpus, reps, name, "keel_nt", threads,
                     [&](const std::vector<std::string>& docs) {
                       auto all = tok->encode_batch(docs, opts, keel::Deadline::after(
                                                                   std::chrono::minutes(10)));
                       if (!all.ok()) {
                         std::fprintf(stderr, "tokenizer_bench: %s\n",
                                      all.status().to_string().c_str());
                         return -1L;
                       }
                       long n = 0;
                       for (const auto& ids : *all) n += static_cast<long>(ids.size());
                       return n;
                     }, load);
  return ok;
}

bool bench_spm(const Corpus& corpus, int reps, const std::string& name, const std::string& path) {
#ifdef KEEL_BENCH_HAVE_SENTENCEPIECE
  sentencepiece::SentencePieceProcessor sp;
  if (auto s = sp.Load(path); !s.ok()) {
    std::fprintf(stderr, "tokenizer_bench: sentencepiece: %s: %s\n", path.c_str(),
                 s.ToString().c_str());
    return false;
  }
  return measure(corpus, reps, name, "spm_cpp", 1, [&](const std::vector<std::string>& docs) {
    long n = 0;
    std::vector<int> ids;
    for (const std::string& d : docs) {
      if (!sp.Encode(d, &ids).ok()) return -1L;
      n += static_cast<long>(ids.size());
    }
    return n;
  });
#else
  (void)corpus, (void)reps, (void)name, (void)path;
  std::fprintf(stderr, "tokenizer_bench: built without libsentencepiece; skipping spm_cpp\n");
  return true;
#endif
}

int usage() {
  std::fprintf(stderr,
               "usage: tokenizer_bench --corpus FILE.jsonl [--reps N] [--spm-model FILE.model] "
               "NAME=TOKENIZER_PATH...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string corpus_path, spm_model;
  int reps = 3;
  std::vector<std::pair<std::string, std::string>> tokenizers;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) {
      corpus_path = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--spm-model" && i + 1 < argc) {
      spm_model = argv[++i];
    } else if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) != 0) {
      tokenizers.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    } else {
      return usage();
    }
  }
  if (corpus_path.empty()) return usage();
  Corpus corpus;
  if (!load_corpus(corpus_path, corpus)) return 1;
  bool ok = true;
  for (const auto& [name, path] : tokenizers) ok = bench_keel(corpus, reps, name, path) && ok;
  if (!spm_model.empty()) {
    std::string name = spm_model.substr(spm_model.find_last_of('/') + 1);
    ok = bench_spm(corpus, reps, name, spm_model) && ok;
    ok = bench_keel(corpus, reps, name, spm_model) && ok;
  }
  return ok ? 0 : 1;
}
