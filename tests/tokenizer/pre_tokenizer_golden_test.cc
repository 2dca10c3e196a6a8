// Differential test against the HF reference: pre_tokenizer_golden.json holds
// the pieces and original (character) offsets that tokenizers 0.22 produces
// for many configurations and texts (see pre_tokenizer_golden_gen.js).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/core/utf8.h"
#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/pre_tokenizers/byte_level_alphabet.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;

json load_golden() {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "pre_tokenizer_golden.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// Character index of every byte offset of `s` (and of s.size()).
std::vector<uint32_t> char_index(std::string_view s) {
  std::vector<uint32_t> idx(s.size() + 1, 0);
  uint32_t chars = 0;
  for (size_t i = 0; i < s.size();) {
    const auto d = utf8::decode(s, i);
    for (size_t k = 0; k < d.length; ++k) idx[i + k] = chars;
    i += d.length;
    ++chars;
  }
  idx[s.size()] = chars;
  return idx;
}

std::string escaped(std::string_view s) { return json(std::string(s)).dump(); }

// Raw bytes a GPT-2-alphabet string stands for.
std::string unmap_bytes(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const auto d = utf8::decode(s, i);
    const auto b = byte_level::char_to_byte(d.code_point);
    out += b ? static_cast<char>(*b) : '?';
    i += d.length;
  }
  return out;
}

struct Piece {
  std::string text;
  uint32_t begin, end;  // characters of the original text
};

std::vector<Piece> run(const PreTokenizer& pt, const std::string& text, Status& status) {
  PieceList pl;
  pl.add_copy(text, 0, static_cast<uint32_t>(text.size()));
  status = pt.pre_tokenize(pl);
  const auto idx = char_index(text);
  std::vector<Piece> out;
  for (const Span& s : pl.spans) {
    out.push_back(Piece{std::string(pl.view(s)), idx[s.orig_begin], idx[s.orig_end]});
  }
  return out;
}

void check_group(const json& group, bool raw) {
  const json& config = group["config"];
  const bool substrings = group["substrings"].get<bool>();
  auto made = make_pre_tokenizer(config, "$.pre_tokenizer", StageOptions{raw});
  ASSERT_TRUE(made.ok()) << made.status().to_string() << " for " << config.dump();
  const PreTokenizer& pt = **made;
  int failures = 0;
  for (const json& c : group["cases"]) {
    const std::string text = c["text"].get<std::string>();
    std::vector<Piece> want;
    const auto idx = char_index(text);
    std::vector<uint32_t> char_to_byte(idx.back() + 1, 0);
    for (size_t b = text.size() + 1; b-- > 0;) char_to_byte[idx[b]] = static_cast<uint32_t>(b);
    for (const json& p : c["pieces"]) {
      if (substrings) {
        const auto b = p[0].get<uint32_t>(), e = p[1].get<uint32_t>();
        want.push_back(
            Piece{text.substr(char_to_byte[b], char_to_byte[e] - char_to_byte[b]), b, e});
      } else {
        std::string s = p[0].get<std::string>();
        if (raw) s = unmap_bytes(s);
        want.push_back(Piece{s, p[1].get<uint32_t>(), p[2].get<uint32_t>()});
      }
    }
    Status status;
    const std::vector<Piece> got = run(pt, text, status);
    ASSERT_TRUE(status.ok()) << status.to_string();
    bool same = got.size() == want.size();
    for (size_t k = 0; same && k < got.size(); ++k) {
      same =
          got[k].text == want[k].text && got[k].begin == want[k].begin && got[k].end == want[k].end;
    }
    if (!same && ++failures <= 5) {
      std::string g, w;
      for (const Piece& p : got) g += fmt::format("{}({},{}) ", escaped(p.text), p.begin, p.end);
      for (const Piece& p : want) w += fmt::format("{}({},{}) ", escaped(p.text), p.begin, p.end);
      ADD_FAILURE() << "config " << config.dump() << (raw ? " (raw)" : "") << "\ntext "
                    << escaped(text) << "\n got: " << g << "\nwant: " << w;
    }
  }
  EXPECT_EQ(failures, 0) << config.dump();
}

TEST(PreTokenizerGolden, MatchesHuggingFace) {
  const json golden = load_golden();
  ASSERT_GT(golden.size(), 50u);
  size_t cases = 0;
  for (const json& group : golden) {
    check_group(group, /*raw=*/false);
    cases += group["cases"].size();
  }
  EXPECT_GT(cases, 5000u);
}

TEST(PreTokenizerGolden, RawByteLevelModeGivesTheSameBytes) {
  const json golden = load_golden();
  for (const json& group : golden) {
    if (group["config"].dump().find("ByteLevel") == std::string::npos) continue;
    check_group(group, /*raw=*/true);
  }
}

}  // namespace
}  // namespace keel::tokenizer
