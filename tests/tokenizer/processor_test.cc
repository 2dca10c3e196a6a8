// Unit tests of the post-processors and of byte-level offset trimming;
// expected values were checked against HF tokenizers 0.22.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/processors/processors.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;
using Offsets = std::vector<std::pair<uint32_t, uint32_t>>;

std::unique_ptr<PostProcessor> load(const std::string& config) {
  auto p = make_post_processor(json::parse(config), "$.post_processor");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? std::move(p).value() : nullptr;
}

Status load_error(const std::string& config) {
  auto p = make_post_processor(json::parse(config), "$.post_processor");
  EXPECT_FALSE(p.ok());
  return p.ok() ? OkStatus() : p.status();
}

constexpr const char* kLlama31 = R"({"type":"Sequence","processors":[
  {"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},
  {"type":"TemplateProcessing",
   "single":[{"SpecialToken":{"id":"<|begin_of_text|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
   "pair":[{"SpecialToken":{"id":"<|begin_of_text|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},
           {"SpecialToken":{"id":"<|begin_of_text|>","type_id":1}},{"Sequence":{"id":"B","type_id":1}}],
   "special_tokens":{"<|begin_of_text|>":{"id":"<|begin_of_text|>","ids":[128000],
                                          "tokens":["<|begin_of_text|>"]}}}]})";

TEST(ProcessorTest, NullIsNoProcessor) {
  auto p = make_post_processor(json(nullptr), "$.post_processor");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, nullptr);
}

TEST(ProcessorTest, TemplateAddsSpecialTokensWithZeroOffsets) {
  auto p = load(kLlama31);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->added_tokens_single(), 1u);
  std::vector<uint32_t> ids = {9906, 1917};
  Offsets offsets = {{0, 5}, {5, 11}};
  ASSERT_TRUE(p->process_single(ids, &offsets).ok());
  EXPECT_EQ(ids, (std::vector<uint32_t>{128000, 9906, 1917}));
  EXPECT_EQ(offsets, (Offsets{{0, 0}, {0, 5}, {5, 11}}));
  EXPECT_EQ(offset_trimming(*p), std::nullopt);  // trim_offsets is false
}

TEST(ProcessorTest, TemplateWithMultiIdTokensAndRepeatedSequence) {
  // HF: [1,2,5,6,6] for "a b" (ids 5, 6) with these tokens.
  auto p = load(R"({"type":"TemplateProcessing",
    "single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},
              {"SpecialToken":{"id":"x","type_id":0}}],
    "pair":[],
    "special_tokens":{"<s>":{"id":"<s>","ids":[1,2],"tokens":["<s>"]},
                      "x":{"id":"y","ids":[6],"tokens":["b"]}}})");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->added_tokens_single(), 3u);
  std::vector<uint32_t> ids = {5, 6};
  ASSERT_TRUE(p->process_single(ids, nullptr).ok());
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 2, 5, 6, 6}));
}

TEST(ProcessorTest, BertRobertaAndSequence) {
  auto bert = load(R"({"type":"BertProcessing","sep":["[SEP]",102],"cls":["[CLS]",101]})");
  ASSERT_NE(bert, nullptr);
  std::vector<uint32_t> ids = {7};
  Offsets offsets = {{0, 3}};
  ASSERT_TRUE(bert->process_single(ids, &offsets).ok());
  EXPECT_EQ(ids, (std::vector<uint32_t>{101, 7, 102}));
  EXPECT_EQ(offsets, (Offsets{{0, 0}, {0, 3}, {0, 0}}));

  auto roberta = load(R"({"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]})");
  ASSERT_NE(roberta, nullptr);
  ASSERT_TRUE(offset_trimming(*roberta).has_value());  // trim_offsets defaults to true
  EXPECT_TRUE(offset_trimming(*roberta)->add_prefix_space);

  auto seq = load(R"({"type":"Sequence","processors":[
      {"type":"BertProcessing","sep":["</s>",2],"cls":["<s>",1]},
      {"type":"BertProcessing","sep":["</s>",2],"cls":["<s>",1]}]})");
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(seq->added_tokens_single(), 4u);
  ids = {5, 6};
  ASSERT_TRUE(seq->process_single(ids, nullptr).ok());
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 1, 5, 6, 2, 2}));
}

TEST(ProcessorTest, ByteLevelTrimsOffsetsOfSpaces) {
  auto p = load(R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true})");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->added_tokens_single(), 0u);
  const auto trimming = offset_trimming(*p);
  ASSERT_TRUE(trimming.has_value());
  const std::vector<std::string_view> tokens = {"Hello", "Ġworld", "ĠĠ", "xĠ"};
  Offsets offsets = {{0, 5}, {5, 11}, {11, 13}, {13, 15}};
  trim_byte_level_offsets(tokens, *trimming, offsets);
  EXPECT_EQ(offsets, (Offsets{{0, 5}, {6, 11}, {13, 13}, {13, 14}}));

  // With add_prefix_space, the single added space of a first token stays.
  Offsets first = {{0, 6}};
  const std::vector<std::string_view> one = {"Ġhello"};
  trim_byte_level_offsets(one, OffsetTrimming{true}, first);
  EXPECT_EQ(first, (Offsets{{0, 6}}));
}

TEST(ProcessorTest, BadInputNamesThePath) {
  Status s = load_error(R"({"type":"TemplateProcessing",
      "single":[{"SpecialToken":{"id":"<t>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
      "pair":[],"special_tokens":{}})");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'<t>'"), std::string_view::npos) << s.to_string();
  EXPECT_NE(s.message().find("$.post_processor.single[0].SpecialToken"), std::string_view::npos)
      << s.to_string();

  s = load_error(R"({"type":"TemplateProcessing","single":[{"Sequence":{"id":"B","type_id":0}}],
                     "pair":[],"special_tokens":{}})");
  EXPECT_NE(s.message().find("sequence B"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"type":"TemplateProcessing","single":[],"special_tokens":{}})");
  EXPECT_NE(s.message().find("pair"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"type":"BertProcessing","sep":["[SEP]",-1],"cls":["[CLS]",101]})");
  EXPECT_NE(s.message().find("$.post_processor.sep"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"type":"Sequence","processors":[{"type":"Nope"}]})");
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("$.post_processor.processors[0]"), std::string_view::npos) << s.to_string();
}

}  // namespace
}  // namespace keel::tokenizer
