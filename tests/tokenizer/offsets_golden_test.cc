// Differential test of token offsets against the HF reference:
// offsets_golden.json holds the ids and offsets tokenizers 0.22 reports
// (Unicode code points, as its Node binding) for small pipelines that
// exercise every normalizer's alignment, every pre-tokenizer, model and
// post-processor keel supports, and added tokens (offsets_golden_gen.js).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/tokenizer/tokenizer.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;

json load_golden() {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "offsets_golden.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// The config's tokenizer.json, with "@NAME" charsmaps filled in.
std::string tokenizer_json(const json& golden, const json& config) {
  json t = config.at("tokenizer");
  std::function<void(json&)> resolve = [&](json& j) {
    if (j.is_object()) {
      auto it = j.find("precompiled_charsmap");
      if (it != j.end() && it->is_string() && it->get<std::string>().starts_with("@")) {
        *it = golden.at("charsmaps").at(it->get<std::string>().substr(1));
      }
      for (auto& [k, v] : j.items()) resolve(v);
    } else if (j.is_array()) {
      for (json& v : j) resolve(v);
    }
  };
  resolve(t);
  return t.dump();
}

std::string show(const std::vector<Offsets>& v) {
  json j = json::array();
  for (const auto& [b, e] : v) j.push_back({b, e});
  return j.dump();
}

TEST(OffsetsGoldenTest, MatchesHuggingFace) {
  const json golden = load_golden();
  const json& configs = golden.at("configs");
  ASSERT_GE(configs.size(), 60u);
  size_t total = 0;
  for (const json& c : configs) {
    const std::string name = c.at("name").get<std::string>();
    auto tok = Tokenizer::from_json(tokenizer_json(golden, c));
    ASSERT_TRUE(tok.ok()) << name << ": " << tok.status().to_string();
    size_t mismatches = 0;
    for (const json& kase : c.at("cases")) {
      const std::string text = kase[0].get<std::string>();
      EncodeOptions options;
      options.add_special_tokens = kase[1].get<bool>();
      options.offsets = true;
      const auto want_ids = kase[2].get<std::vector<uint32_t>>();
      std::vector<Offsets> want;
      for (const json& o : kase[3]) want.emplace_back(o[0].get<uint32_t>(), o[1].get<uint32_t>());
      auto enc = tok->encode(text, options);
      ASSERT_TRUE(enc.ok()) << name << ": " << json(text).dump() << ": "
                            << enc.status().to_string();
      ++total;
      // Offsets never change the ids.
      auto plain = tok->encode(text, options.add_special_tokens);
      ASSERT_TRUE(plain.ok());
      EXPECT_EQ(*plain, enc->ids) << name << ": " << json(text).dump();
      const std::vector<Offsets> got = to_char_offsets(text, enc->offsets);
      if ((enc->ids != want_ids || got != want) && ++mismatches <= 5) {
        ADD_FAILURE() << name << " (add_special " << options.add_special_tokens
                      << ")\n   text: " << json(text).dump()
                      << "\n   want: " << json(want_ids).dump() << " " << show(want)
                      << "\n    got: " << json(enc->ids).dump() << " " << show(got);
      }
    }
    EXPECT_EQ(mismatches, 0u) << name;
  }
  EXPECT_GE(total, 5000u);
}

}  // namespace
}  // namespace keel::tokenizer
