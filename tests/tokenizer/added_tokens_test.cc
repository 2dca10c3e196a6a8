#include "keel/tokenizer/added_tokens.h"

#include <gtest/gtest.h>

namespace keel::tokenizer {
namespace {

struct Expected {
  std::string text;
  std::optional<uint32_t> id;
};

// Splits and renders each split as (text, id) like HF's own tests do.
std::vector<Expected> run(const std::vector<AddedToken>& tokens, std::string_view text) {
  std::vector<const AddedToken*> ptrs;
  for (const auto& t : tokens) ptrs.push_back(&t);
  AddedTokenSplitter splitter(ptrs);
  std::vector<TextSplit> splits;
  splitter.split(text, splits);
  std::vector<Expected> out;
  for (const auto& s : splits) out.push_back({std::string(text.substr(s.begin, s.end - s.begin)), s.token_id});
  return out;
}

AddedToken tok(uint32_t id, std::string content) {
  AddedToken t;
  t.id = id;
  t.content = std::move(content);
  return t;
}

void expect_splits(const std::vector<Expected>& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].text, want[i].text) << "split " << i;
    EXPECT_EQ(got[i].id, want[i].id) << "split " << i;
  }
}

TEST(AddedTokenSplitterTest, ExtractsTokensLeftmostLongest) {
  std::vector<AddedToken> tokens = {tok(1, "my"), tok(2, "name"), tok(3, "[CLS]"), tok(4, "[SEP]"),
                                    tok(5, "<|im"), tok(6, "<|im_start|>")};
  expect_splits(run(tokens, "[CLS] My name is Anthony [SEP]"),
                {{"[CLS]", 3}, {" My ", {}}, {"name", 2}, {" is Anthony ", {}}, {"[SEP]", 4}});
  expect_splits(run(tokens, "a<|im_start|>b<|imx"),
                {{"a", {}}, {"<|im_start|>", 6}, {"b", {}}, {"<|im", 5}, {"x", {}}});
}

TEST(AddedTokenSplitterTest, LstripRstripSingleWord) {
  AddedToken mask = tok(0, "<mask>");
  mask.single_word = true;
  expect_splits(run({mask}, "<mask> My name <mask> A<mask> <mask>ony <mask>"),
                {{"<mask>", 0}, {" My name ", {}}, {"<mask>", 0},
                 {" A<mask> <mask>ony ", {}}, {"<mask>", 0}});
  // Punctuation is not a word character; a combining mark is.
  expect_splits(run({mask}, "<mask>, <mask>- \u25CC\u0330<mask>"),
                {{"<mask>", 0}, {", ", {}}, {"<mask>", 0}, {"- \u25CC\u0330<mask>", {}}});
  mask.lstrip = mask.rstrip = true;
  expect_splits(run({mask}, "Hi <mask> there\t<mask>\t<mask>\u2000"),
                {{"Hi", {}}, {" <mask> ", 0}, {"there", {}}, {"\t<mask>\t", 0}, {"<mask>\u2000", 0}});
}

TEST(AddedTokenSplitterTest, EmptyTextAndNoTokens) {
  expect_splits(run({tok(1, "x")}, ""), {});
  expect_splits(run({}, "plain"), {{"plain", {}}});
}

TEST(AddedTokenSplitterTest, ManyTokensUseOneAutomaton) {
  std::vector<AddedToken> tokens;
  for (uint32_t i = 0; i < 7000; ++i) tokens.push_back(tok(i, "<extra_" + std::to_string(i) + ">"));
  expect_splits(run(tokens, "a<extra_6999>b<extra_12>"),
                {{"a", {}}, {"<extra_6999>", 6999}, {"b", {}}, {"<extra_12>", 12}});
}

TEST(RustUnicodeClassesTest, WordAndSpace) {
  EXPECT_TRUE(is_rust_word_char(U'a'));
  EXPECT_TRUE(is_rust_word_char(U'_'));
  EXPECT_TRUE(is_rust_word_char(U'é'));
  EXPECT_TRUE(is_rust_word_char(U'\u0330'));
  EXPECT_TRUE(is_rust_word_char(U'٣'));
  EXPECT_FALSE(is_rust_word_char(U'-'));
  EXPECT_FALSE(is_rust_word_char(U' '));
  EXPECT_TRUE(is_rust_whitespace(U'\u2000'));
  EXPECT_TRUE(is_rust_whitespace(U'\u0085'));
  EXPECT_FALSE(is_rust_whitespace(U'\u200B'));
}

}  // namespace
}  // namespace keel::tokenizer
