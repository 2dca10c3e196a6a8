#include "keel/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include "common/testdata.h"

namespace keel::tokenizer {
namespace {

// Expected ids were produced by HuggingFace tokenizers 0.22 (@anush008/tokenizers).
TEST(TokenizerTest, Llama3KnownIds) {
  KEEL_REQUIRE_TOKENIZER(tok, "llama3");
  auto ids = tok.encode("Hello world's   123456 <|begin_of_text|>x", true);
  ASSERT_TRUE(ids.ok()) << ids.status().to_string();
  EXPECT_EQ(*ids, (std::vector<uint32_t>{9906, 1917, 596, 256, 220, 4513, 10961, 220, 128000, 87}));
  auto text = tok.decode(*ids, false);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "Hello world's   123456 <|begin_of_text|>x");
  auto skipped = tok.decode(*ids, true);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(*skipped, "Hello world's   123456 x");
}

TEST(TokenizerTest, InvalidUtf8IsAnErrorNamingTheOffset) {
  KEEL_REQUIRE_TOKENIZER(tok, "qwen3");
  auto r = tok.encode("ok \xC3( bad", false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("byte offset 3"), std::string_view::npos)
      << r.status().message();
  EncodeOptions lossy;
  lossy.lossy_utf8 = true;
  lossy.add_special_tokens = false;
  auto l = tok.encode("ok \xC3( bad", lossy);
  ASSERT_TRUE(l.ok());
  auto expected = tok.encode("ok \uFFFD( bad", false);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(l->ids, *expected);
}

// HF tokenizers drops ids it does not know (checked with its npm binding:
// Qwen3 decode([9707, 151885, 11, 1879]) == "Hello, world"): models pad
// their vocabulary past the tokenizer's and a sampler can pick a pad row.
TEST(TokenizerTest, DecodeSkipsUnknownIdsLikeHuggingFace) {
  KEEL_REQUIRE_TOKENIZER(tok, "qwen3");
  std::vector<uint32_t> with_pad = {9707, 151885, 11, 1879, 999999};
  auto r = tok.decode(with_pad, false);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, "Hello, world");
}

TEST(TokenizerTest, VocabularyAndSpecialTokens) {
  KEEL_REQUIRE_TOKENIZER(tok, "qwen3");
  EXPECT_EQ(tok.vocab_size(), 151669u);
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 151644u);
  EXPECT_TRUE(tok.is_special(151644));
  EXPECT_FALSE(tok.is_special(151667));  // <think> is added but not special
  EXPECT_EQ(tok.id_to_token(151645), "<|im_end|>");
}

TEST(TokenizerLoadTest, MissingPathSaysWhatToPass) {
  auto r = Tokenizer::from_path("/nonexistent/tokenizer.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("tokenizer.model"), std::string_view::npos);
}

TEST(TokenizerLoadTest, MalformedJsonNamesThePosition) {
  auto r = Tokenizer::from_json(R"({"model": {"type": "BPE", "vocab": {"a": 0}, )");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not valid JSON"), std::string_view::npos);
}

// Found by fuzz/tokenizer_json_fuzz: nlohmann throws out_of_range (not
// parse_error) for a number beyond double, which escaped as an exception.
TEST(TokenizerLoadTest, NumberOverflowIsInvalidJsonNotAnException) {
  for (const char* text : {"1e348", R"({"model": {"type": "Unigram", "vocab": [["a", 1e400]]}})"}) {
    auto r = Tokenizer::from_json(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("not valid JSON"), std::string_view::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("number overflow"), std::string_view::npos)
        << r.status().message();
  }
}

// Found reviewing the loader after the fuzz campaign (libFuzzer's 4 KiB
// inputs cannot nest deep enough): a pattern object with an extra key is
// dump()ed into the error message, recursively, and 3 million levels of '['
// overflowed the stack (SIGSEGV). Nesting is now bounded before parsing.
TEST(TokenizerLoadTest, DeepNestingIsAnErrorNotAStackOverflow) {
  const size_t n = 3'000'000;
  const std::string deep =
      R"({"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"},
          "normalizer": {"type": "Replace", "content": "x", "pattern": {"x": 1, "String": )" +
      std::string(n, '[') + std::string(n, ']') + "}}}";
  auto r = Tokenizer::from_json(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("more than 256 levels deep"), std::string_view::npos)
      << r.status().message();
  // Brackets inside strings do not count, and 256 levels still load.
  const std::string wide = R"({"model": {"type": "WordLevel", "vocab": {")" +
                           std::string(1000, '[') + R"(": 0}, "unk_token": ")" +
                           std::string(1000, '[') + R"("}, "x": )" + std::string(254, '[') +
                           std::string(254, ']') + "}";
  auto ok = Tokenizer::from_json(wide);
  EXPECT_TRUE(ok.ok()) << ok.status().to_string();
}

// Found by fuzz/tokenizer_json_fuzz: with a ByteLevel pre-tokenizer the
// loader read the model's "type" with json::value(), which throws type_error
// when it is not a string; now make_model reports it.
TEST(TokenizerLoadTest, NonStringModelTypeIsAnError) {
  for (const char* type : {"true", "[]", "1", "{}"}) {
    auto r = Tokenizer::from_json(
        std::string(R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": )") + type +
        "}}");
    ASSERT_FALSE(r.ok()) << type;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
    EXPECT_NE(r.status().message().find("$.model.type"), std::string_view::npos)
        << r.status().message();
  }
}

TEST(TokenizerLoadTest, MissingModel) {
  auto r = Tokenizer::from_json(R"({"normalizer": null})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'model'"), std::string_view::npos) << r.status().message();
}

TEST(TokenizerLoadTest, UnknownComponentIsUnimplementedNamingType) {
  auto r = Tokenizer::from_json(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "pre_tokenizer": {"type": "FancySplit"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("FancySplit"), std::string_view::npos);
  EXPECT_NE(r.status().message().find("$.pre_tokenizer"), std::string_view::npos);
}

TEST(TokenizerLoadTest, BadAddedTokenNamesJsonPath) {
  auto r = Tokenizer::from_json(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "added_tokens": [{"id": 1, "content": "<s>"}, {"id": "x", "content": "</s>"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("$.added_tokens[1].id"), std::string_view::npos)
      << r.status().message();
}

TEST(TokenizerLoadTest, ConfigAddsBosFromFolder) {
  auto path = ::keel::testing::lenml_tokenizer("llama2");
  if (!path) GTEST_SKIP() << "npm test data missing";
  std::string folder = path->substr(0, path->rfind('/'));
  auto tok = Tokenizer::from_path(folder);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ(tok->bos_id(), 1u);
  EXPECT_EQ(tok->eos_id(), 2u);
  auto ids = tok->encode("Hi", true);
  ASSERT_TRUE(ids.ok());
  ASSERT_FALSE(ids->empty());
  EXPECT_EQ((*ids)[0], 1u);
}

}  // namespace
}  // namespace keel::tokenizer
