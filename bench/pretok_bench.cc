// Pre-tokenizer throughput: the hand-written scanners, the Split
// pre-tokenizer around them, and PCRE2 on the same patterns.
//   pretok_bench [files...]   (default: /usr/share/common-licenses/* and
//                              /usr/share/doc/*/copyright, concatenated)
// Reports MB/s on one thread (best of several rounds), timed with the
// thread's CPU clock so that a busy shared machine does not skew it.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/pre_tokenizers/scanner.h"

namespace {

using keel::tokenizer::RegexMatch;

std::string read_corpus(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) files.emplace_back(argv[i]);
  std::error_code ec;
  if (files.empty()) {
    for (const auto& e : std::filesystem::directory_iterator("/usr/share/common-licenses", ec)) {
      files.push_back(e.path());
    }
    for (const auto& e : std::filesystem::directory_iterator("/usr/share/doc", ec)) {
      if (std::filesystem::exists(e.path() / "copyright")) files.push_back(e.path() / "copyright");
    }
  }
  std::string text;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    text += ss.str();
  }
  return keel::utf8::to_valid_lossy(text);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Best-of-`rounds` throughput of `fn` over `bytes` bytes, in MB/s.
double mb_per_s(size_t bytes, int rounds, const std::function<size_t()>& fn) {
  double best = 1e30;
  size_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    const double t0 = thread_cpu_seconds();
    sink += fn();
    const double s = thread_cpu_seconds() - t0;
    best = std::min(best, s);
  }
  if (sink == 42) std::puts("");
  return static_cast<double>(bytes) / best / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace keel::tokenizer;
  const std::string text = read_corpus(argc, argv);
  // Split into ~4 KB "documents" at line boundaries, as a server would see.
  std::vector<std::string_view> docs;
  for (size_t i = 0; i < text.size();) {
    size_t end = std::min(text.size(), i + 4096);
    const size_t nl = text.find('\n', end);
    end = nl == std::string::npos ? text.size() : nl + 1;
    docs.push_back(std::string_view(text).substr(i, end - i));
    i = end;
  }
  std::printf("corpus: %.2f MB in %zu documents\n", static_cast<double>(text.size()) / 1e6,
              docs.size());
  for (std::string_view pattern : {kLlama3Pattern, kQwen2Pattern, kGpt2Pattern}) {
    const auto scanner = make_scanner(pattern);
    std::vector<RegexMatch> ms;
    const double scan = mb_per_s(text.size(), 5, [&] {
      size_t n = 0;
      for (std::string_view d : docs) {
        ms.clear();
        scanner->scan(d, ms);
        n += ms.size();
      }
      return n;
    });
    nlohmann::json cfg = {{"type", "Split"},
                          {"pattern", {{"Regex", std::string(pattern)}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
    auto split = make_pre_tokenizer(cfg, "$.pre_tokenizer", StageOptions{true});
    PieceList pl;
    const double pretok = mb_per_s(text.size(), 5, [&] {
      size_t n = 0;
      for (std::string_view d : docs) {
        pl.clear();
        pl.add_copy(d, 0, static_cast<uint32_t>(d.size()));
        (void)(*split)->pre_tokenize(pl);
        n += pl.spans.size();
      }
      return n;
    });
    auto regex = Regex::compile(pattern);
    const double pcre = mb_per_s(text.size(), 2, [&] {
      size_t n = 0;
      for (std::string_view d : docs) {
        ms.clear();
        (void)regex->find_all(d, ms);
        n += ms.size();
      }
      return n;
    });
    std::printf("%-7s scanner %7.1f MB/s   Split pre_tokenize %7.1f MB/s   PCRE2%s %6.1f MB/s\n",
                std::string(scanner->name()).c_str(), scan, pretok, regex->jit() ? " (JIT)" : "",
                pcre);
  }
  return 0;
}
