#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "keel/core/utf8.h"

#include "keel/tokenizer/sentencepiece/sentencepiece_model.h"
#include "sentencepiece_test_util.h"

namespace keel::tokenizer {
namespace {

using spm_test::build_charsmap;
using spm_test::kByte;
using spm_test::kControl;
using spm_test::kNormal;
using spm_test::kUnknown;
using spm_test::kUnused;
using spm_test::kUserDefined;
using spm_test::TestModel;

const std::string kWs = "\xE2\x96\x81";  // ▁

TokenizerParts load(const TestModel& m) {
  auto r = load_sentencepiece_model(m.serialize());
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : TokenizerParts{};
}

std::string normalized(const TokenizerParts& p, std::string_view text) {
  std::string out;
  EXPECT_TRUE(p.normalizer->normalize(text, out).ok());
  return out;
}

std::vector<uint32_t> encode(const TokenizerParts& p, std::string_view text) {
  std::vector<uint32_t> ids;
  const Status s = p.model->tokenize(normalized(p, text), ids);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return ids;
}

TestModel base(int model_type) {
  TestModel m;
  m.model_type = model_type;
  m.pieces = {{"<unk>", 0, kUnknown}, {"<s>", 0, kControl}, {"</s>", 0, kControl}};
  return m;
}

// ---- normalizer -----------------------------------------------------------

TEST(SpmNormalizer, WhitespaceRules) {
  TestModel m = base(1);
  m.pieces.push_back({"a", -1, kNormal});
  const TokenizerParts p = load(m);
  EXPECT_EQ(normalized(p, "  a   b  "), kWs + "a" + kWs + "b");
  EXPECT_EQ(normalized(p, "a"), kWs + "a");
  EXPECT_EQ(normalized(p, "   "), "");
  EXPECT_EQ(normalized(p, ""), "");
}

TEST(SpmNormalizer, KeepsSpacesWhenToldTo) {
  TestModel m = base(1);
  m.remove_extra_whitespaces = false;
  const TokenizerParts p = load(m);
  EXPECT_EQ(normalized(p, " a  b "), kWs + kWs + "a" + kWs + kWs + "b" + kWs);
  m.add_dummy_prefix = false;
  m.escape_whitespaces = false;
  const TokenizerParts q = load(m);
  EXPECT_EQ(normalized(q, " a  b "), " a  b ");
}

TEST(SpmNormalizer, LongestRuleAndSpacesFromRules) {
  TestModel m = base(1);
  // A rule whose output starts with a space after a space is collapsed.
  m.charsmap = build_charsmap({{"\xEF\xBC\xA1", "A"}, {"\xEF\xBC\xA1\xEF\xBC\xA2", "AB!"},
                               {"\t", " "}, {"\xE3\x80\x80", " "}});
  const TokenizerParts p = load(m);
  EXPECT_EQ(normalized(p, "\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA1"), kWs + "AB!A");
  EXPECT_EQ(normalized(p, "\t x \xE3\x80\x80\t y\t"), kWs + "x" + kWs + "y");
}

TEST(SpmNormalizer, UserDefinedPiecesAreNotNormalized) {
  TestModel m = base(1);
  m.pieces.push_back({"\xEF\xBC\xA1\xEF\xBC\xA1", 0, kUserDefined});
  m.charsmap = build_charsmap({{"\xEF\xBC\xA1", "A"}});
  const TokenizerParts p = load(m);
  EXPECT_EQ(normalized(p, "\xEF\xBC\xA1\xEF\xBC\xA1\xEF\xBC\xA1"),
            kWs + "\xEF\xBC\xA1\xEF\xBC\xA1" + "A");
}

// ---- unigram --------------------------------------------------------------

TEST(SpmUnigram, ViterbiPicksBestTotalScore) {
  TestModel m = base(1);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal},          // 3
                                   {"a", -2, kNormal},          // 4
                                   {"b", -2, kNormal},          // 5
                                   {"ab", -3, kNormal},         // 6
                                   {kWs + "a", -2.5f, kNormal}, // 7
                                   {"c", -9, kNormal}});        // 8
  const TokenizerParts p = load(m);
  // ▁ab: [▁a][b] = -4.5, [▁][ab] = -4, [▁][a][b] = -5.
  // ▁a▁c: [▁a][▁][c] = -12.5 beats [▁][a][▁][c] = -13.
  EXPECT_EQ(encode(p, "ab"), (std::vector<uint32_t>{3, 6}));
  EXPECT_EQ(encode(p, "a c"), (std::vector<uint32_t>{7, 3, 8}));
}

TEST(SpmUnigram, UnknownRunsBecomeOneUnk) {
  TestModel m = base(1);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal}, {"a", -2, kNormal}});
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "a\xE4\xB8\xAD\xE6\x96\x87" "a"), (std::vector<uint32_t>{3, 4, 0, 4}));
}

TEST(SpmUnigram, ByteFallbackSpellsUnknownsAsBytes) {
  TestModel m = base(1);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal}, {"a", -2, kNormal}});
  m.add_byte_pieces();  // <0x00> is id 5
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "a\xC3\xA9"), (std::vector<uint32_t>{3, 4, 5 + 0xC3, 5 + 0xA9}));
}

TEST(SpmUnigram, ReservedPiecesNeverMatchText) {
  TestModel m = base(1);
  m.pieces.insert(m.pieces.end(),
                  {{kWs, -1, kNormal}, {"<", -2, kNormal}, {"s", -2, kNormal}, {">", -2, kNormal}});
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "<s>"), (std::vector<uint32_t>{3, 4, 5, 6}));
}

TEST(SpmUnigram, UserDefinedWinsAndUnusedIsSkipped) {
  TestModel m = base(1);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal},          // 3
                                   {"x", -1, kNormal},          // 4
                                   {"y", -1, kNormal},          // 5
                                   {"xy", -100, kUserDefined},  // 6
                                   {kWs + "x", 0, kUnused}});   // 7
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "xyx"), (std::vector<uint32_t>{3, 6, 4}));
}

// ---- BPE ------------------------------------------------------------------

TEST(SpmBpe, MergesByScoreThenLeftmost) {
  TestModel m = base(2);
  m.add_dummy_prefix = false;
  m.pieces.insert(m.pieces.end(), {{"a", -10, kNormal},   // 3
                                   {"b", -10, kNormal},   // 4
                                   {"ab", -2, kNormal},   // 5
                                   {"ba", -1, kNormal},   // 6
                                   {"aba", -3, kNormal}}); // 7
  const TokenizerParts p = load(m);
  // "aba": ba (-1) beats ab (-2), then a+ba = aba.
  EXPECT_EQ(encode(p, "aba"), (std::vector<uint32_t>{7}));
  // "abab": ba merges first (middle), leaving a,ba,b; aba then forms.
  EXPECT_EQ(encode(p, "abab"), (std::vector<uint32_t>{7, 4}));
}

TEST(SpmBpe, EqualScoresMergeLeftmostFirst) {
  TestModel m = base(2);
  m.add_dummy_prefix = false;
  m.pieces.insert(m.pieces.end(), {{"a", -10, kNormal},    // 3
                                   {"aa", -1, kNormal}});  // 4
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "aaa"), (std::vector<uint32_t>{4, 3}));
}

TEST(SpmBpe, UserDefinedIsFrozenAndUnusedIsResegmented) {
  TestModel m = base(2);
  m.add_dummy_prefix = false;
  m.pieces.insert(m.pieces.end(), {{"a", -10, kNormal},       // 3
                                   {"b", -10, kNormal},       // 4
                                   {"ab", -1, kUnused},       // 5
                                   {"abb", -2, kNormal},      // 6
                                   {"<b>", 0, kUserDefined},  // 7
                                   {"a<", -1, kNormal}});     // 8
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "ab"), (std::vector<uint32_t>{3, 4}));  // unused "ab" split back
  EXPECT_EQ(encode(p, "abb"), (std::vector<uint32_t>{6}));    // but may merge onwards
  EXPECT_EQ(encode(p, "a<b>"), (std::vector<uint32_t>{3, 7}));
}

TEST(SpmBpe, UnknownCharactersWithAndWithoutByteFallback) {
  TestModel m = base(2);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal}, {"a", -2, kNormal}});
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "\xC3\xA9\xC3\xA9" "a"), (std::vector<uint32_t>{3, 0, 4}));
  m.add_byte_pieces();  // <0x00> is id 5
  const TokenizerParts q = load(m);
  EXPECT_EQ(encode(q, "\xC3\xA9"), (std::vector<uint32_t>{3, 5 + 0xC3, 5 + 0xA9}));
}

// ---- loader ---------------------------------------------------------------

TEST(SpmLoader, SpecialTokensAndDecoder) {
  TestModel m = base(2);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal}, {kWs + "hi", -1, kNormal}});
  m.add_byte_pieces();
  TokenizerParts p = load(m);
  ASSERT_EQ(p.added_tokens.size(), 3u);
  EXPECT_EQ(p.added_tokens[0].content, "<unk>");
  EXPECT_EQ(p.added_tokens[1].content, "<s>");
  EXPECT_TRUE(p.added_tokens[1].special);
  EXPECT_EQ(p.bos_token, "<s>");
  EXPECT_EQ(p.eos_token, "</s>");
  EXPECT_EQ(p.add_bos_token, true);
  EXPECT_EQ(p.add_eos_token, false);
  EXPECT_EQ(p.model->token_to_id("<0x41>"), 5u + 0x41);
  EXPECT_EQ(p.model->id_to_token(4), kWs + "hi");
  EXPECT_FALSE(p.model->id_to_token(100000).has_value());
  EXPECT_EQ(p.model->vocab_size(), 5u + 256u);
  // A valid byte run becomes its text; an invalid one one U+FFFD per token.
  std::vector<std::string> tokens = {kWs + "hi", "<0xC3>", "<0xA9>", kWs,
                                     "<0xFF>",   "<0xC3>", kWs + "hi"};
  ASSERT_TRUE(p.decoder->decode_chain(tokens).ok());
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0], "hi\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD hi");
}

TEST(SpmLoader, NoBosWhenDisabled) {
  TestModel m = base(1);
  m.bos_id = -1;
  const TokenizerParts p = load(m);
  EXPECT_FALSE(p.bos_token.has_value());
  EXPECT_EQ(p.add_bos_token, false);
}

void expect_error(const TestModel& m, StatusCode code, std::string_view fragment) {
  auto r = load_sentencepiece_model(m.serialize());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(fragment), std::string_view::npos)
      << r.status().message();
}

TEST(SpmLoader, RejectsInconsistentVocabularies) {
  TestModel empty;
  expect_error(empty, StatusCode::kInvalidArgument, "has no pieces");

  TestModel no_unk;
  no_unk.pieces = {{"a", 0, kNormal}};
  expect_error(no_unk, StatusCode::kInvalidArgument, "no UNKNOWN piece");

  TestModel dup = base(1);
  dup.pieces.push_back({"<s>", 0, kNormal});
  expect_error(dup, StatusCode::kInvalidArgument, "piece 3 '<s>' is defined twice");

  TestModel stray_byte = base(1);
  stray_byte.pieces.push_back({"<0x41>", 0, kByte});
  expect_error(stray_byte, StatusCode::kInvalidArgument, "byte_fallback is false");

  TestModel missing_bytes = base(1);
  missing_bytes.add_byte_pieces();
  missing_bytes.pieces.erase(missing_bytes.pieces.end() - 1);
  expect_error(missing_bytes, StatusCode::kInvalidArgument, "byte piece <0xFF> is missing");

  TestModel bad_byte = base(1);
  bad_byte.byte_fallback = true;
  bad_byte.pieces.push_back({"<0x4g>", 0, kByte});
  expect_error(bad_byte, StatusCode::kInvalidArgument, "is not of the form <0xXX>");

  TestModel empty_piece = base(1);
  empty_piece.pieces.push_back({"", 0, kNormal});
  expect_error(empty_piece, StatusCode::kInvalidArgument, "piece 3 is empty");

  TestModel word = base(3);
  expect_error(word, StatusCode::kUnimplemented, "WORD/CHAR");

  TestModel corrupt_map = base(1);
  corrupt_map.charsmap = "\x7f\x00\x00\x00\x01";
  expect_error(corrupt_map, StatusCode::kDataLoss, "normalizer_spec: precompiled charsmap");
}

TEST(SpmLoader, HugePieceDoesNotExhaustTheStack) {
  TestModel m = base(1);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal},
                                   {"a", -2, kNormal},
                                   {std::string(1 << 20, 'a'), -1, kNormal},
                                   {std::string(1 << 19, 'b'), 0, kUserDefined}});
  const TokenizerParts p = load(m);
  EXPECT_EQ(encode(p, "aa"), (std::vector<uint32_t>{3, 4, 4}));
}

TEST(SpmLoader, ConcurrentEncodesAgree) {
  for (int type : {1, 2}) {
    TestModel m = base(type);
    m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal},
                                     {"a", -2, kNormal},
                                     {"b", -2, kNormal},
                                     {"ab", -1.5f, kNormal},
                                     {kWs + "ab", -1, kNormal}});
    m.add_byte_pieces();
    const TokenizerParts p = load(m);
    std::vector<std::string> texts;
    std::mt19937 rng(5);
    for (int i = 0; i < 64; ++i) {
      std::string t;
      for (int k = 0; k < 200; ++k) t += "ab \xC3\xA9"[rng() % 6];
      texts.push_back(utf8::to_valid_lossy(t));
    }
    std::vector<std::vector<uint32_t>> expected;
    for (const auto& t : texts) expected.push_back(encode(p, t));
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int th = 0; th < 4; ++th) {
      threads.emplace_back([&, th] {
        for (int rep = 0; rep < 20; ++rep) {
          for (size_t i = 0; i < texts.size(); ++i) {
            const size_t k = (i + static_cast<size_t>(th) * 7) % texts.size();
            std::string n;
            std::vector<uint32_t> ids;
            if (!p.normalizer->normalize(texts[k], n).ok() || !p.model->tokenize(n, ids).ok() ||
                ids != expected[k]) {
              ++mismatches;
            }
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0) << "model type " << type;
  }
}

TEST(SpmLoader, CorruptFilesFailCleanly) {
  TestModel m = base(2);
  m.pieces.insert(m.pieces.end(), {{kWs, -1, kNormal}, {"a", -2, kNormal}, {"b", -3, kNormal}});
  m.charsmap = build_charsmap({{"\xEF\xBC\xA1", "a"}, {"\t", " "}});
  const std::string bytes = m.serialize();
  std::mt19937 rng(3);
  int loaded = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string b = bytes;
    for (int e = 0; e < 2; ++e) b[rng() % b.size()] = static_cast<char>(rng() & 0xFF);
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    auto r = load_sentencepiece_model(b);
    if (!r.ok()) continue;
    ++loaded;
    std::string out;
    if (!r->normalizer->normalize("ab \xEF\xBC\xA1\tb", out).ok()) continue;
    std::vector<uint32_t> ids;
    EXPECT_TRUE(r->model->tokenize(out, ids).ok());
  }
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace keel::tokenizer
