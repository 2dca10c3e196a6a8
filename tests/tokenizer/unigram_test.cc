// Unit tests of the Unigram model (models/unigram.h) and its factory.
// Expected ids were checked against HF tokenizers 0.22 (via Node).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/models/serde_float.h"
#include "keel/tokenizer/models/unigram.h"

namespace keel::tokenizer {
namespace {

using Ids = std::vector<uint32_t>;

Result<std::unique_ptr<Model>> parse_model(const std::string& text) {
  return make_model(nlohmann::json::parse(text), "$.model", StageOptions{});
}

std::unique_ptr<Model> model_from(const std::string& text) {
  auto m = parse_model(text);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : nullptr;
}

Ids ids_of(const Model& m, std::string_view piece) {
  Ids ids;
  const Status st = m.tokenize(piece, ids);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return ids;
}

// The example from HF's Unigram::encode documentation.
constexpr const char* kDoc = R"({"type":"Unigram","unk_id":0,"vocab":[["<unk>",0.0],["a",0.0],
  ["b",0.0],["c",0.0],["d",0.0],["cd",1.0],["ab",2.0],["abc",5.0],["abcd",10.0]]})";

TEST(UnigramTest, ViterbiPicksBestSegmentation) {
  auto m = model_from(kDoc);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "abcdacdxx"), (Ids{8, 1, 5, 0}));  // abcd a cd xx
  EXPECT_EQ(ids_of(*m, "abcd"), (Ids{8}));
  EXPECT_EQ(ids_of(*m, ""), (Ids{}));
}

TEST(UnigramTest, ConsecutiveUnknownsAreFused) {
  auto m = model_from(kDoc);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "xxabx"), (Ids{0, 6, 0}));
}

TEST(UnigramTest, ByteFallback) {
  auto m = model_from(R"({"type":"Unigram","unk_id":0,"byte_fallback":true,
    "vocab":[["<unk>",0.0],["a",-1.0],["<0xC3>",-2.0],["<0xA9>",-2.0]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "a\xC3\xA9"), (Ids{1, 2, 3}));          // "aé"
  EXPECT_EQ(ids_of(*m, "\xC3\xA9\xC3\xA9"), (Ids{2, 3, 2, 3}));  // fused, then bytes
  EXPECT_EQ(ids_of(*m, "a\xE2\x82\xAC"), (Ids{1, 0}));          // "a€": no byte tokens
}

TEST(UnigramTest, EqualScoresKeepTheFirstPathFound) {
  // a+b and ab both score -2; HF keeps the path found first (ab, from 0).
  auto m = model_from(R"({"type":"Unigram","unk_id":0,
    "vocab":[["<unk>",0.0],["a",-1.0],["b",-1.0],["ab",-2.0]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "ab"), (Ids{3}));
}

TEST(UnigramTest, UnkPieceMatchedLiterallyIsFusedWithUnknowns) {
  auto m = model_from(R"({"type":"Unigram","unk_id":0,
    "vocab":[["<unk>",-1.0],["a",-1.0],["<",-5.0]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "<unk>a"), (Ids{0, 1}));
  EXPECT_EQ(ids_of(*m, "x<unk>"), (Ids{0}));
}

TEST(UnigramTest, CharacterWithoutSinglePieceGetsUnkAlternative) {
  auto m = model_from(R"({"type":"Unigram","unk_id":0,
    "vocab":[["<unk>",0.0],["ab",-1.0],["b",-1.0]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "ab"), (Ids{1}));
  EXPECT_EQ(ids_of(*m, "aab"), (Ids{0, 1}));
}

TEST(UnigramTest, UnknownWithoutUnkIdIsAnError) {
  auto m = model_from(R"({"type":"Unigram","unk_id":null,"vocab":[["a",-1.0]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "a"), (Ids{0}));
  Ids ids;
  const Status st = m->tokenize("ab", ids);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("no unk_id"), std::string_view::npos) << st.message();
}

TEST(UnigramTest, LookupsAndVocabSize) {
  auto m = model_from(kDoc);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->vocab_size(), 9u);
  EXPECT_EQ(m->token_to_id("abc"), std::optional<uint32_t>(7));
  EXPECT_EQ(m->id_to_token(5), std::optional<std::string_view>("cd"));
  EXPECT_EQ(m->id_to_token(9), std::nullopt);
}

void expect_invalid(const std::string& text, const std::string& needle) {
  auto m = parse_model(text);
  ASSERT_FALSE(m.ok()) << text;
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << m.status().to_string();
  EXPECT_NE(m.status().message().find(needle), std::string_view::npos)
      << "message: " << m.status().message() << "\nexpected to contain: " << needle;
}

TEST(UnigramTest, MalformedJsonNamesThePath) {
  expect_invalid(R"({"type":"Unigram","unk_id":5,"vocab":[["a",-1.0]]})",
                 "$.model.unk_id: 5 is out of range");
  expect_invalid(R"({"type":"Unigram","unk_id":-1,"vocab":[["a",-1.0]]})", "$.model.unk_id");
  expect_invalid(R"({"type":"Unigram","vocab":[["a",-1.0],["b"]]})", "$.model.vocab[1]: expected");
  expect_invalid(R"({"type":"Unigram","vocab":[["a","x"]]})", "$.model.vocab[0]: expected");
  expect_invalid(R"({"type":"Unigram","vocab":{"a":1}})", "$.model.vocab");
  expect_invalid(R"({"type":"Unigram","vocab":[],"byte_fallback":1})", "$.model.byte_fallback");
}

TEST(UnigramTest, CppApiValidatesUnkId) {
  UnigramConfig empty;
  empty.unk_id = 0;
  EXPECT_EQ(make_unigram(empty).status().code(), StatusCode::kInvalidArgument);
  UnigramConfig out_of_range;
  out_of_range.pieces = {{"a", -1.0}};
  out_of_range.unk_id = 1;
  EXPECT_EQ(make_unigram(out_of_range).status().code(), StatusCode::kInvalidArgument);
  UnigramConfig ok;
  ok.pieces = {{"<unk>", 0.0}, {"a", -1.0}};
  ok.unk_id = 0;
  auto m = make_unigram(ok);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ids_of(**m, "ab"), (Ids{1, 0}));
}

// serde_json (as HF uses it) computes significand * 10^exp in f64 and can be
// one ulp away from the correctly rounded value; Viterbi ties depend on it.
TEST(SerdeFloatTest, ReplaysSerdeArithmetic) {
  using models_internal::serde_json_f64;
  EXPECT_EQ(serde_json_f64(0.0), 0.0);
  EXPECT_EQ(serde_json_f64(-1.5), -1.5);
  EXPECT_EQ(serde_json_f64(-10.0), -10.0);
  EXPECT_EQ(serde_json_f64(1e-05), 1.0 / 1e5);
  // 17 significant digits: 14898619485211565 is not exact in f64, so serde
  // rounds twice (to f64, then the division) and lands one ulp lower.
  EXPECT_EQ(serde_json_f64(-14.898619485211565), -14.898619485211563);
  EXPECT_EQ(serde_json_f64(-14.898619485211565),
            -(static_cast<double>(14898619485211565ULL) / 1e15));
}

}  // namespace
}  // namespace keel::tokenizer
