// Differential test against the HF reference: normalizer_golden.json holds the
// outputs tokenizers 0.22 produces for many normalizer and decoder
// configurations on curated and random text (see normalizer_golden_gen.js).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/tokenizer/factories.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;

json load_golden() {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "normalizer_golden.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

const json& golden() {
  static const json g = load_golden();
  return g;
}

TEST(NormalizerGoldenTest, MatchesHuggingFace) {
  const json& configs = golden().at("normalizers");
  ASSERT_GE(configs.size(), 10u);
  for (const json& c : configs) {
    const std::string name = c.at("normalizer").dump();
    auto n = make_normalizer(c.at("normalizer"), "$.normalizer");
    ASSERT_TRUE(n.ok()) << name << ": " << n.status().to_string();
    size_t mismatches = 0;
    for (const json& kase : c.at("cases")) {
      const std::string in = kase[0].get<std::string>();
      const std::string want = kase[1].get<std::string>();
      std::string got;
      ASSERT_TRUE((*n)->normalize(in, got).ok()) << name;
      if (got != want && ++mismatches <= 5) {
        ADD_FAILURE() << name << "\n  input: " << json(in).dump() << "\n   want: " << json(want).dump()
                      << "\n    got: " << json(got).dump();
      }
    }
    EXPECT_EQ(mismatches, 0u) << name;
  }
}

TEST(DecoderGoldenTest, MatchesHuggingFace) {
  const json& configs = golden().at("decoders");
  ASSERT_GE(configs.size(), 10u);
  for (const json& c : configs) {
    const std::string name = c.at("decoder").dump();
    auto d = make_decoder(c.at("decoder"), "$.decoder");
    ASSERT_TRUE(d.ok()) << name << ": " << d.status().to_string();
    size_t mismatches = 0;
    for (const json& kase : c.at("cases")) {
      std::vector<std::string> tokens = kase[0].get<std::vector<std::string>>();
      const std::string want = kase[1].get<std::string>();
      ASSERT_TRUE((*d)->decode_chain(tokens).ok()) << name;
      std::string got;
      for (const std::string& t : tokens) got += t;
      if (got != want && ++mismatches <= 5) {
        ADD_FAILURE() << name << "\n  tokens: " << kase[0].dump() << "\n    want: " << json(want).dump()
                      << "\n     got: " << json(got).dump();
      }
    }
    EXPECT_EQ(mismatches, 0u) << name;
  }
}

}  // namespace
}  // namespace keel::tokenizer
