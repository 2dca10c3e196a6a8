// Differential test: keel's SentencePiece loader (normalizer + model, no
// added-token splitting) against the real libsentencepiece, on real .model
// files and several MB of real text plus edge cases. Requirement: 100 %
// identical ids to sp.encode(text). See sentencepiece_differential_util.h.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

#include "keel/tokenizer/sentencepiece/sentencepiece_model.h"
#include "sentencepiece_differential_util.h"

namespace keel::tokenizer {
namespace {

using namespace spm_diff;  // NOLINT

class SpmDifferential : public ::testing::TestWithParam<ModelCase> {};

TEST_P(SpmDifferential, IdsMatchLibsentencepiece) {
  const ModelCase& c = GetParam();
  std::string why;
  const fs::path model = prepare_model(c, why);
  if (model.empty()) GTEST_SKIP() << why;
  const auto expected = reference_ids(model, why);
  if (expected.empty()) GTEST_SKIP() << why;
  ASSERT_EQ(expected.size(), texts().size());

  auto parts = load_sentencepiece_model(read_file(model));
  ASSERT_TRUE(parts.ok()) << parts.status().to_string();
  size_t mismatches = 0, bytes = 0;
  std::string normalized;
  std::vector<uint32_t> ids;
  const std::clock_t t0 = std::clock();  // CPU time: the machine may be shared
  for (size_t i = 0; i < texts().size(); ++i) {
    const std::string& text = texts()[i];
    bytes += text.size();
    ASSERT_TRUE(parts->normalizer->normalize(text, normalized).ok());
    ids.clear();
    ASSERT_TRUE(parts->model->tokenize(normalized, ids).ok());
    if (ids != expected[i]) {
      size_t k = 0;
      while (k < ids.size() && k < expected[i].size() && ids[k] == expected[i][k]) ++k;
      if (++mismatches <= 5) {
        ADD_FAILURE() << c.name << ": text " << i << " " << describe(text)
                      << " differs at id index " << k << " (keel "
                      << (k < ids.size() ? std::to_string(ids[k]) : "end") << ", sentencepiece "
                      << (k < expected[i].size() ? std::to_string(expected[i][k]) : "end")
                      << ")";
      }
    }
  }
  const double seconds = static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
  EXPECT_EQ(mismatches, 0u) << "of " << texts().size() << " texts";
  // Informational only (speed is measured in bench/, never asserted here).
  std::printf("[ spm ] %s: %zu texts, %zu bytes, %zu mismatches, keel %.2f MB/s of CPU time\n",
              c.name.c_str(), texts().size(), bytes, mismatches, bytes / 1e6 / seconds);
}

INSTANTIATE_TEST_SUITE_P(
    Models, SpmDifferential, ::testing::ValuesIn(model_cases()),
    [](const ::testing::TestParamInfo<ModelCase>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace keel::tokenizer
