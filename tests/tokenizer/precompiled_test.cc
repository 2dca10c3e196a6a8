#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <random>

#include "keel/tokenizer/sentencepiece/charsmap.h"
#include "keel/tokenizer/sentencepiece/precompiled.h"
#include "sentencepiece_test_util.h"

namespace keel::tokenizer {
namespace {

using spm::CharsMap;
using spm_test::build_charsmap;

std::string normalize(const Normalizer& n, std::string_view in) {
  std::string out;
  const Status s = n.normalize(in, out);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return out;
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       static_cast<uint8_t>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(t[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (i + 1 < in.size()) v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out.push_back(t[(v >> 18) & 63]);
    out.push_back(t[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? t[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

TEST(CharsMap, LongestRuleIsLibsentencepiecesChoice) {
  auto map = CharsMap::parse(build_charsmap({{"a", "x"}, {"ab", "y"}, {"abc", "zz"}}));
  ASSERT_TRUE(map.ok()) << map.status().to_string();
  auto r = map->longest_rule("abd");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->length, 2u);
  EXPECT_EQ(r->replacement, "y");
  r = map->longest_rule("abcd");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->length, 3u);
  EXPECT_EQ(r->replacement, "zz");
  r = map->longest_rule("q");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->length, 0u);
}

TEST(CharsMap, FirstRuleIsHfsChoice) {
  auto map = CharsMap::parse(build_charsmap({{"a", "x"}, {"ab", "y"}}));
  ASSERT_TRUE(map.ok());
  auto r = map->first_rule("abc");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, "x");
  r = map->first_rule("b");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(CharsMap, EmptyBlobIsIdentity) {
  auto map = CharsMap::parse("");
  ASSERT_TRUE(map.ok());
  EXPECT_TRUE(map->empty());
}

TEST(CharsMap, CorruptBlobsAreDataLoss) {
  auto short_blob = CharsMap::parse("\x01\x00");
  ASSERT_FALSE(short_blob.ok());
  EXPECT_EQ(short_blob.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(short_blob.status().message().find("too short"), std::string_view::npos);

  auto too_big = CharsMap::parse(std::string("\x10\x00\x00\x00\x00\x00\x00\x00", 8));
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(too_big.status().message(),
            "precompiled charsmap: trie size 16 at offset 0 exceeds the 4 bytes that follow it");

  auto ragged = CharsMap::parse(std::string("\x03\x00\x00\x00\x00\x00\x00\x00", 8));
  ASSERT_FALSE(ragged.ok());
  EXPECT_EQ(ragged.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(ragged.status().message().find("not a whole number of 4-byte units"),
            std::string_view::npos);

  std::string bad_utf8 = build_charsmap({{"a", "x"}});
  bad_utf8.back() = '\xFF';  // the NUL after "x"
  auto b = CharsMap::parse(bad_utf8);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(b.status().message().find("not valid UTF-8"), std::string_view::npos);
}

TEST(CharsMap, OutOfRangeRuleIsDataLossAtLookup) {
  std::string blob = build_charsmap({{"a", "x"}});
  blob.resize(blob.size() - 2);  // drop "x\0": the rule's offset 0 is now past the end
  auto map = CharsMap::parse(blob);
  ASSERT_TRUE(map.ok());
  auto r = map->longest_rule("a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.status().message(),
            "precompiled charsmap: rule points at offset 0 but the replacement strings are 0 "
            "bytes");
}

TEST(CharsMap, RandomCorruptionNeverReadsOutOfBounds) {
  const std::string blob =
      build_charsmap({{"a", "x"}, {"ab", "y"}, {"\xEF\xBC\xA1", "A"}, {"\xC3\xA9", "e"}});
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::string b = blob;
    for (int e = 0; e < 3; ++e) b[4 + rng() % (b.size() - 4)] = static_cast<char>(rng() & 0xFF);
    auto map = CharsMap::parse(b);
    if (!map.ok()) continue;
    (void)map->longest_rule("ab\xEF\xBC\xA1\xC3\xA9");
    (void)map->first_rule("ab\xEF\xBC\xA1");
  }
}

TEST(PrecompiledNormalizer, ReplacesPerCharacter) {
  auto n = make_precompiled_normalizer(
      build_charsmap({{"\xEF\xBC\xA1", "A"}, {"\xEF\xBC\xA2", "B"}, {"\xE2\x85\xAB", "XII"}}));
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(normalize(**n, "\xEF\xBC\xA1\xEF\xBC\xA2 c \xE2\x85\xAB"), "AB c XII");
  EXPECT_EQ(normalize(**n, ""), "");
}

TEST(PrecompiledNormalizer, ShortGraphemeUsesItsFirstPrefixRule) {
  // HF: a grapheme under 6 bytes whose prefix has a rule becomes that rule's
  // replacement as a whole: "e" + U+0301 → "E", the accent is dropped.
  auto n = make_precompiled_normalizer(build_charsmap({{"e", "E"}}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(normalize(**n, "e\xCC\x81x"), "Ex");
  auto composed = make_precompiled_normalizer(build_charsmap({{"e\xCC\x81", "\xC3\xA9"}}));
  ASSERT_TRUE(composed.ok());
  EXPECT_EQ(normalize(**composed, "e\xCC\x81"), "\xC3\xA9");
}

TEST(PrecompiledNormalizer, LongGraphemeGoesCharacterByCharacter) {
  // "e" + three combining marks is 7 bytes: each character is looked up alone.
  auto n = make_precompiled_normalizer(build_charsmap({{"e", "E"}, {"\xCC\x81", "'"}}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(normalize(**n, "e\xCC\x81\xCC\x81\xCC\x81"), "E'''");
}

TEST(PrecompiledNormalizer, FromJson) {
  const std::string blob = build_charsmap({{"\xEF\xBC\xA1", "A"}});
  nlohmann::json j = {{"type", "Precompiled"}, {"precompiled_charsmap", base64(blob)}};
  auto n = make_precompiled_normalizer(j, "$.normalizer");
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(normalize(**n, "x\xEF\xBC\xA1"), "xA");
}

TEST(PrecompiledNormalizer, BadJsonNamesThePath) {
  nlohmann::json missing = {{"type", "Precompiled"}};
  auto a = make_precompiled_normalizer(missing, "$.normalizer");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("$.normalizer"), std::string_view::npos);

  nlohmann::json bad64 = {{"type", "Precompiled"}, {"precompiled_charsmap", "ab$c"}};
  auto b = make_precompiled_normalizer(bad64, "$.normalizer");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message(),
            "$.normalizer.precompiled_charsmap: invalid base64 character at offset 2");

  nlohmann::json corrupt = {{"type", "Precompiled"}, {"precompiled_charsmap", base64("\x09")}};
  auto c = make_precompiled_normalizer(corrupt, "$.normalizer");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("$.normalizer.precompiled_charsmap: precompiled charsmap"),
            std::string_view::npos);
}

}  // namespace
}  // namespace keel::tokenizer
