#include <gtest/gtest.h>

#include <random>

#include "keel/tokenizer/sentencepiece/model_proto.h"
#include "sentencepiece_test_util.h"

namespace keel::tokenizer::spm {
namespace {

using spm_test::ProtoWriter;
using spm_test::TestModel;

TestModel small_model() {
  TestModel m;
  m.pieces = {{"<unk>", 0, spm_test::kUnknown},
              {"<s>", 0, spm_test::kControl},
              {"</s>", 0, spm_test::kControl},
              {"\xE2\x96\x81hi", -1.5f, spm_test::kNormal},
              {"<sep>", 0, spm_test::kUserDefined}};
  m.model_type = 2;
  m.add_dummy_prefix = false;
  return m;
}

TEST(SpmProto, ParsesPiecesAndSpecs) {
  auto r = parse_model_proto(small_model().serialize());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->pieces.size(), 5u);
  EXPECT_EQ(r->pieces[3].piece, "\xE2\x96\x81hi");
  EXPECT_FLOAT_EQ(r->pieces[3].score, -1.5f);
  EXPECT_EQ(r->pieces[0].type, PieceType::kUnknown);
  EXPECT_EQ(r->pieces[4].type, PieceType::kUserDefined);
  EXPECT_EQ(r->trainer_spec.model_type, ModelType::kBpe);
  EXPECT_EQ(r->trainer_spec.pad_id, -1);  // a 10-byte negative varint
  EXPECT_EQ(r->trainer_spec.bos_id, 1);
  EXPECT_EQ(r->normalizer_spec.name, "identity");
  EXPECT_FALSE(r->normalizer_spec.add_dummy_prefix);
  EXPECT_TRUE(r->normalizer_spec.remove_extra_whitespaces);
}

TEST(SpmProto, DefaultsFollowTheProtoFile) {
  auto r = parse_model_proto("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->trainer_spec.model_type, ModelType::kUnigram);
  EXPECT_EQ(r->trainer_spec.unk_id, 0);
  EXPECT_EQ(r->trainer_spec.eos_id, 2);
  EXPECT_EQ(r->trainer_spec.pad_id, -1);
  EXPECT_EQ(r->trainer_spec.bos_piece, "<s>");
  EXPECT_FALSE(r->trainer_spec.byte_fallback);
  EXPECT_TRUE(r->normalizer_spec.add_dummy_prefix);
  EXPECT_TRUE(r->normalizer_spec.escape_whitespaces);
}

TEST(SpmProto, SkipsUnknownFieldsOfEveryWireType) {
  ProtoWriter w;
  w.field_varint(99, 12345);
  w.key(98, 1);
  w.out += std::string(8, '\x07');
  w.field_bytes(97, "ignored");
  w.field_float(96, 1.0f);
  ProtoWriter piece;
  piece.field_bytes(1, "a");
  piece.field_varint(77, 1);
  w.field_bytes(1, piece.out);
  w.field_bytes(4, "self test data is skipped");
  auto r = parse_model_proto(w.out);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->pieces.size(), 1u);
  EXPECT_EQ(r->pieces[0].piece, "a");
  EXPECT_EQ(r->pieces[0].type, PieceType::kNormal);
}

TEST(SpmProto, TruncatedPieceNamesFieldAndOffset) {
  ProtoWriter piece;
  piece.field_bytes(1, "ab");
  piece.key(2, 5);
  piece.out += "\x01\x02";  // a float needs 4 bytes
  ProtoWriter w;
  w.field_bytes(1, "");
  w.field_bytes(1, piece.out);
  auto r = parse_model_proto(w.out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.status().message(),
            "sentencepiece model: ModelProto.pieces[1].score: truncated at byte offset 9 "
            "(needs 4 bytes, 2 left)");
}

TEST(SpmProto, TruncatedOuterMessage) {
  const std::string bytes = small_model().serialize();
  auto r = parse_model_proto(bytes.substr(0, 10));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("ModelProto.pieces: truncated at byte offset 2"),
            std::string_view::npos)
      << r.status().message();
}

TEST(SpmProto, EveryPrefixParsesOrFailsWithDataLoss) {
  const std::string bytes = small_model().serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = parse_model_proto(bytes.substr(0, n));
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << n;
    }
  }
}

TEST(SpmProto, RandomCorruptionNeverCrashes) {
  const std::string bytes = small_model().serialize();
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string b = bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) b[rng() % b.size()] = static_cast<char>(rng() & 0xFF);
    auto r = parse_model_proto(b);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().message();
    }
  }
}

TEST(SpmProto, WrongWireTypeIsDataLoss) {
  ProtoWriter piece;
  piece.field_varint(2, 3);  // score must be a 32-bit float
  ProtoWriter w;
  w.field_bytes(1, piece.out);
  auto r = parse_model_proto(w.out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.status().message(),
            "sentencepiece model: ModelProto.pieces[0].score: wire type 0 (varint) at byte "
            "offset 2, expected 32-bit");
}

TEST(SpmProto, UnknownPieceTypeIsDataLoss) {
  ProtoWriter piece;
  piece.field_varint(3, 9);
  ProtoWriter w;
  w.field_bytes(1, piece.out);
  auto r = parse_model_proto(w.out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("ModelProto.pieces[0].type: unknown piece type 9"),
            std::string_view::npos);
}

TEST(SpmProto, GroupsAndOverlongVarintsAreDataLoss) {
  ProtoWriter g;
  g.key(7, 3);
  auto r = parse_model_proto(g.out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("unsupported wire type 3 (start-group)"),
            std::string_view::npos);

  auto v = parse_model_proto(std::string(11, '\xFF'));
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(v.status().message().find("varint longer than 10 bytes"), std::string_view::npos);
}

TEST(SpmProto, UnknownModelTypeIsDataLoss) {
  ProtoWriter t;
  t.field_varint(3, 7);
  ProtoWriter w;
  w.field_bytes(2, t.out);
  auto r = parse_model_proto(w.out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("trainer_spec.model_type: unknown model type 7"),
            std::string_view::npos);
}

}  // namespace
}  // namespace keel::tokenizer::spm
