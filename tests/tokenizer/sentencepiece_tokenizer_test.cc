// The public Tokenizer on tokenizer.model files against the real
// libsentencepiece (see sentencepiece_differential_util.h).
#include <gtest/gtest.h>

#include "keel/tokenizer/tokenizer.h"
#include "sentencepiece_differential_util.h"

namespace keel::tokenizer {
namespace {

using namespace spm_diff;  // NOLINT

class SpmTokenizerDifferential : public ::testing::TestWithParam<ModelCase> {};

// Through the public Tokenizer (added tokens split first), for texts that do
// not contain a control piece literally (there HF semantics, which keel
// follows, deliberately differ from sp.encode).
TEST_P(SpmTokenizerDifferential, TokenizerMatchesLibsentencepiece) {
  const ModelCase& c = GetParam();
  std::string why;
  const fs::path model = prepare_model(c, why);
  if (model.empty()) GTEST_SKIP() << why;
  const auto expected = reference_ids(model, why);
  if (expected.empty()) GTEST_SKIP() << why;
  auto tok = Tokenizer::from_path(model.string());
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  size_t compared = 0, mismatches = 0;
  for (size_t i = 0; i < texts().size(); ++i) {
    const std::string& text = texts()[i];
    bool has_special = false;
    for (const AddedToken& t : tok->added_tokens()) {
      if (text.find(t.content) != std::string::npos) has_special = true;
    }
    if (has_special) continue;
    ++compared;
    auto ids = tok->encode(text, /*add_special_tokens=*/false);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    if (*ids != expected[i] && ++mismatches <= 5) {
      ADD_FAILURE() << c.name << ": text " << i << " " << describe(text) << " differs";
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << compared << " texts";
}

// bos from trainer_spec, control pieces as special tokens, and a decode that
// gives back plain text.
TEST_P(SpmTokenizerDifferential, SpecialTokensAndRoundTrip) {
  const ModelCase& c = GetParam();
  std::string why;
  const fs::path model = prepare_model(c, why);
  if (model.empty()) GTEST_SKIP() << why;
  auto tok = Tokenizer::from_path(model.string());
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const std::string text = "hello world, this is a test.";
  auto plain = tok->encode(text, false);
  auto with_bos = tok->encode(text, true);
  ASSERT_TRUE(plain.ok() && with_bos.ok());
  if (tok->bos_id()) {
    ASSERT_EQ(with_bos->size(), plain->size() + 1);
    EXPECT_EQ(with_bos->front(), *tok->bos_id());
    auto s = tok->encode("<s>", false);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*s, std::vector<uint32_t>{*tok->bos_id()});
  } else {
    EXPECT_EQ(*with_bos, *plain);
  }
  auto decoded = tok->decode(*plain);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, text);
}

INSTANTIATE_TEST_SUITE_P(
    Models, SpmTokenizerDifferential, ::testing::ValuesIn(model_cases()),
    [](const ::testing::TestParamInfo<ModelCase>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace keel::tokenizer
