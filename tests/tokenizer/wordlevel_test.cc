// Unit tests of the WordLevel and WordPiece models (models/word_level.h).
// Expected ids were checked against HF tokenizers 0.22 (via Node).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/models/word_level.h"

namespace keel::tokenizer {
namespace {

using Ids = std::vector<uint32_t>;

Result<std::unique_ptr<Model>> parse_model(const std::string& text) {
  return make_model(nlohmann::json::parse(text), "$.model", StageOptions{});
}

Ids ids_of(const Model& m, std::string_view piece) {
  Ids ids;
  const Status st = m.tokenize(piece, ids);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return ids;
}

TEST(WordLevelTest, LooksUpWholePieceOrUnk) {
  auto m = parse_model(R"({"type":"WordLevel","vocab":{"hello":0,"world":1,"<unk>":2},
    "unk_token":"<unk>"})");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(ids_of(**m, "hello"), (Ids{0}));
  EXPECT_EQ(ids_of(**m, "nope"), (Ids{2}));
  EXPECT_EQ((*m)->id_to_token(1), std::optional<std::string_view>("world"));
  EXPECT_EQ((*m)->vocab_size(), 3u);
}

// Found by fuzz/tokenizer_json_fuzz (corpus timeout-sparse-vocab-id): the
// id -> token table was indexed by id, so one id of 2^31 - 1 allocated 16 GiB
// (222222222: 1.7 GB and seconds). Sparse ids now use a sorted table.
TEST(WordLevelTest, SparseIdsDoNotAllocatePerId) {
  for (const char* type : {"WordLevel", "BPE"}) {
    auto m = parse_model(std::string(R"({"type":")") + type +
                         R"(","vocab":{"a":0,"b":2147483647,"c":222222222,"<unk>":7,"d":7},
                             "merges":[],"unk_token":"<unk>"})");
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ((*m)->id_to_token(2147483647), std::optional<std::string_view>("b")) << type;
    EXPECT_EQ((*m)->id_to_token(222222222), std::optional<std::string_view>("c"));
    EXPECT_EQ((*m)->id_to_token(0), std::optional<std::string_view>("a"));
    // Two tokens with one id: the first added ("<unk>" sorts before "d").
    EXPECT_EQ((*m)->id_to_token(7), std::optional<std::string_view>("<unk>"));
    EXPECT_EQ((*m)->id_to_token(1), std::nullopt);
    EXPECT_EQ((*m)->id_to_token(2147483646), std::nullopt);
    EXPECT_EQ((*m)->token_to_id("b"), std::optional<uint32_t>(2147483647));
    EXPECT_EQ((*m)->vocab_size(), 5u);
  }
}

TEST(WordLevelTest, MissingUnkIsAnError) {
  auto m = parse_model(R"({"type":"WordLevel","vocab":{"hello":0}})");
  ASSERT_TRUE(m.ok());
  Ids ids;
  const Status st = (*m)->tokenize("nope", ids);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("<unk>"), std::string_view::npos) << st.message();
}

constexpr const char* kWordPiece = R"({"type":"WordPiece","unk_token":"[UNK]",
  "continuing_subword_prefix":"##","max_input_chars_per_word":8,
  "vocab":{"[UNK]":0,"un":1,"##aff":2,"##able":3,"u":4,"##n":5,"é":6,"##é":7}})";

TEST(WordPieceTest, GreedyLongestMatchFirst) {
  auto m = parse_model(kWordPiece);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(ids_of(**m, "unaff"), (Ids{1, 2}));
  EXPECT_EQ(ids_of(**m, "un"), (Ids{1}));
  EXPECT_EQ(ids_of(**m, "\xC3\xA9\xC3\xA9"), (Ids{6, 7}));  // multi-byte characters
}

TEST(WordPieceTest, UncoverableOrTooLongBecomesUnk) {
  auto m = parse_model(kWordPiece);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ids_of(**m, "unx"), (Ids{0}));
  EXPECT_EQ(ids_of(**m, "unaffable"), (Ids{0}));  // 9 characters > 8
}

TEST(WordPieceTest, DefaultsMatchHf) {
  auto m = parse_model(R"({"type":"WordPiece","vocab":{"[UNK]":0,"a":1,"##b":2}})");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(ids_of(**m, "ab"), (Ids{1, 2}));
  EXPECT_EQ(ids_of(**m, std::string(101, 'a')), (Ids{0}));
}

TEST(ModelFactoryTest, DispatchAndErrors) {
  auto unknown = parse_model(R"({"type":"Magic","vocab":{}})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(unknown.status().message().find("Magic"), std::string_view::npos);

  auto not_object = parse_model("[1,2]");
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_object.status().message().find("$.model"), std::string_view::npos);

  auto no_type = parse_model(R"({"vocab":{"a":0}})");
  ASSERT_FALSE(no_type.ok());
  EXPECT_NE(no_type.status().message().find("'type'"), std::string_view::npos);

  // Old files without "type": BPE when there are merges, Unigram for a list vocab.
  EXPECT_TRUE(parse_model(R"({"vocab":{"a":0},"merges":[]})").ok());
  EXPECT_TRUE(parse_model(R"({"vocab":[["a",-1.0]],"unk_id":0})").ok());

  auto bad_max = parse_model(R"({"type":"WordPiece","vocab":{},"max_input_chars_per_word":"x"})");
  ASSERT_FALSE(bad_max.ok());
  EXPECT_NE(bad_max.status().message().find("$.model.max_input_chars_per_word"),
            std::string_view::npos);
  auto bad_vocab = parse_model(R"({"type":"WordLevel","vocab":{"a":1.5}})");
  ASSERT_FALSE(bad_vocab.ok());
  EXPECT_NE(bad_vocab.status().message().find("$.model.vocab[\"a\"]"), std::string_view::npos);
}

}  // namespace
}  // namespace keel::tokenizer
