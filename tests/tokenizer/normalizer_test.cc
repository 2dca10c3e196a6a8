// Unit tests of the normalizers; expected values were checked against HF
// tokenizers 0.22 (normalizer_golden_test.cc covers many more inputs).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "keel/tokenizer/alignment.h"
#include "keel/tokenizer/factories.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;

std::string normalize(const std::string& config, const std::string& in) {
  auto n = make_normalizer(json::parse(config), "$.normalizer");
  EXPECT_TRUE(n.ok()) << n.status().to_string();
  if (!n.ok()) return "<load error>";
  std::string out = "garbage";
  EXPECT_TRUE((*n)->normalize(in, out).ok());
  return out;
}

Status load_error(const std::string& config) {
  auto n = make_normalizer(json::parse(config), "$.normalizer");
  EXPECT_FALSE(n.ok());
  return n.ok() ? OkStatus() : n.status();
}

TEST(NormalizerTest, NullIsNoNormalizer) {
  auto n = make_normalizer(json(nullptr), "$.normalizer");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, nullptr);
}

TEST(NormalizerTest, UnicodeForms) {
  EXPECT_EQ(normalize(R"({"type":"NFC"})", "e\u0301\u0302 \u1100\u1161\u11A8"), "\u00E9\u0302 \uAC01");
  EXPECT_EQ(normalize(R"({"type":"NFC"})", "\u2126\u0958"), "\u03A9\u0915\u093C");  // singletons, exclusions
  EXPECT_EQ(normalize(R"({"type":"NFD"})", "a\u0301\u0316\u0300"), "a\u0316\u0301\u0300");
  EXPECT_EQ(normalize(R"({"type":"NFD"})", "\uAC00\u11A8"), "\u1100\u1161\u11A8");
  EXPECT_EQ(normalize(R"({"type":"NFKC"})", "\uFB01\u2460\u00BD"), "fi1" "1\u20442");
  EXPECT_EQ(normalize(R"({"type":"NFKD"})", "\u00C5\u3000"), "A\u030A ");
  EXPECT_EQ(normalize(R"({"type":"NFC"})", "plain ascii"), "plain ascii");
}

TEST(NormalizerTest, UnicodeFormsKeepCharactersNewerThanHfTables) {
  // HF's normalization data is Unicode 9.0: U+1DF6 (10.0, ccc 232) is not
  // reordered and U+11938 (13.0) neither decomposes nor composes.
  EXPECT_EQ(normalize(R"({"type":"NFD"})", "a\u0300\u1DF6"), "a\u0300\u1DF6");
  EXPECT_EQ(normalize(R"({"type":"NFD"})", "a\u0300\U0001E94A"), "a\U0001E94A\u0300");  // 9.0
  EXPECT_EQ(normalize(R"({"type":"NFD"})", "\U00011938"), "\U00011938");
  EXPECT_EQ(normalize(R"({"type":"NFC"})", "\U00011935\U00011930"), "\U00011935\U00011930");
  EXPECT_EQ(normalize(R"({"type":"NFKC"})", "\U0001F12F\U0001F16A"), "\U0001F12FMC");
}

TEST(NormalizerTest, Lowercase) {
  EXPECT_EQ(normalize(R"({"type":"Lowercase"})", "HeLLo \u0130 \u03A3\u03A3 \u1E9E"),
            "hello i\u0307 \u03C3\u03C3 \u00DF");
  // Unicode 16/17 mappings that utf8proc (Unicode 15) lacks.
  EXPECT_EQ(normalize(R"({"type":"Lowercase"})", "\uA7CB\U00016EA0"), "\u0264\U00016EBB");
}

TEST(NormalizerTest, StripAccentsRemovesMarksOfUnicode9) {
  EXPECT_EQ(normalize(R"({"type":"StripAccents"})", "e\u0301 a\u0903b a\u20DDb \u00E9 a\u0D00b"),
            "e ab ab \u00E9 a\u0D00b");
  // Category changes since Unicode 9.0: U+1CF2 was Mc (stripped), U+111C9 was Po.
  EXPECT_EQ(normalize(R"({"type":"StripAccents"})", "a\u1CF2\U000111C9"), "a\U000111C9");
}

TEST(NormalizerTest, StripAndPrepend) {
  const char* both = R"({"type":"Strip","strip_left":true,"strip_right":true})";
  EXPECT_EQ(normalize(both, " \u3000\u0085a b\u2009\u200B"), "a b\u2009\u200B");
  EXPECT_EQ(normalize(R"({"type":"Strip","strip_left":false,"strip_right":true})", "  a  "), "  a");
  EXPECT_EQ(normalize(both, " \t "), "");
  EXPECT_EQ(normalize(R"({"type":"Prepend","prepend":"▁"})", "ab"), "▁ab");
  EXPECT_EQ(normalize(R"({"type":"Prepend","prepend":"▁"})", ""), "");
}

TEST(NormalizerTest, Replace) {
  EXPECT_EQ(normalize(R"({"type":"Replace","pattern":{"String":"aa"},"content":"X"})", "caaab"),
            "cXab");
  EXPECT_EQ(normalize(R"({"type":"Replace","pattern":{"Regex":"a+"},"content":"b"})", "abcaab"),
            "bbcbb");
  EXPECT_EQ(normalize(R"({"type":"Replace","pattern":{"String":""},"content":"-"})", "ab"), "-a-b-");
  EXPECT_EQ(normalize(R"({"type":"Replace","pattern":{"Regex":"x*"},"content":"-"})", ""), "");
}

// Found by fuzz/tokenizer_json_fuzz (corpus slow-replace-empty-pattern-chain,
// oom-replace-empty-pattern-x4.json): an empty pattern inserts the content
// between every two characters, so chained Replaces multiply the text's
// length; four 200-byte contents took an 11-byte text towards 18 GB.
// Growth is bounded to 64x + 4 KiB (growth_limit.h): ResourceExhausted.
TEST(NormalizerTest, ReplaceGrowthIsBounded) {
  const std::string x200(200, 'x');
  const std::string replace =
      R"({"type":"Replace","pattern":{"String":""},"content":")" + x200 + R"("})";
  const std::string chain = R"({"type":"Sequence","normalizers":[)" + replace + "," + replace +
                            "," + replace + "," + replace + "]}";
  auto n = make_normalizer(json::parse(chain), "$.normalizer");
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  std::string out;
  Status s = (*n)->normalize("hello world", out);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
  EXPECT_NE(s.message().find("Replace of String ''"), std::string_view::npos) << s.message();
  EXPECT_NE(s.message().find("grows a 2411-byte text to 484811 bytes"), std::string_view::npos)
      << s.message();
  AlignedString aligned;
  aligned.assign("hello world", 0);
  s = (*n)->normalize_aligned(aligned);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();

  // Each step within its own bound, the chain past it: the Sequence stops it,
  // also when the Sequences are nested (they are flattened when loaded).
  const std::string x7 = R"({"type":"Replace","pattern":{"String":""},"content":"xxxxxxx"})";
  for (const std::string& config :
       {R"({"type":"Sequence","normalizers":[)" + x7 + "," + x7 + "," + x7 + "]}",
        R"({"type":"Sequence","normalizers":[)" + x7 + R"(,{"type":"Sequence","normalizers":[)" +
            x7 + R"(,{"type":"Sequence","normalizers":[)" + x7 + "]}]}]}"}) {
    auto seq = make_normalizer(json::parse(config), "$.normalizer");
    ASSERT_TRUE(seq.ok()) << seq.status().to_string();
    s = (*seq)->normalize(std::string(1000, 'a'), out);
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
    EXPECT_NE(s.message().find("normalizer Sequence grows a 1000-byte text to 512511 bytes"),
              std::string_view::npos)
        << s.message();
    EXPECT_EQ(normalize(config, "ab").size(), 2 + 3 * 7 + 24 * 7 + 192 * 7) << config;
  }
  // Real growth is far below: Llama 2's " " -> "▁" on a text of spaces.
  EXPECT_EQ(normalize(R"({"type":"Replace","pattern":{"String":" "},"content":"▁"})",
                      std::string(100000, ' ')).size(),
            300000u);
}

TEST(NormalizerTest, BertNormalizer) {
  const char* lower = R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,
                          "strip_accents":null,"lowercase":true})";
  EXPECT_EQ(normalize(lower, std::string("a\0b\uFFFDc\u200Bd\u00ADe\u0085f\t\ng\u2028h", 24)),
            "abcdef  g h");
  EXPECT_EQ(normalize(lower, "\u00C0\u00C9\u4E2D"), "ae \u4E2D ");
  EXPECT_EQ(normalize(lower, "a\uE000b\u08E2c"), "ab\u08E2c");  // Co dropped; Cf of Unicode 9 kept
  const char* keep = R"({"type":"BertNormalizer","clean_text":false,"handle_chinese_chars":false,
                         "strip_accents":true,"lowercase":false})";
  EXPECT_EQ(normalize(keep, "a\u0903b\u0301"), "a\u0903b");  // only Mn is stripped
  // Mn as of Unicode 8.0: U+1734 was Mn then; U+1885 and U+A9BD were not.
  EXPECT_EQ(normalize(keep, "a\u1734\u1885\uA9BD"), "a\u1885\uA9BD");
}

TEST(NormalizerTest, NmtByteLevelAndSequence) {
  EXPECT_EQ(normalize(R"({"type":"Nmt"})", "a\u0001b\t\u200Bc\u0085"), "ab  c\u0085");
  EXPECT_EQ(normalize(R"({"type":"ByteLevel"})", "a b\n\u00E9"), "a\u0120b\u010A\u00C3\u00A9");
  EXPECT_EQ(normalize(R"({"type":"Sequence","normalizers":[{"type":"NFD"},{"type":"StripAccents"},
                          {"type":"Lowercase"}]})",
                      "\u00C0 B\u00E9"),
            "a be");
}

TEST(NormalizerTest, BadInputNamesThePath) {
  Status s = load_error(R"({"type":"Strip","strip_left":true})");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("$.normalizer"), std::string_view::npos) << s.to_string();
  EXPECT_NE(s.message().find("strip_right"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Bogus"}]})");
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("$.normalizer.normalizers[1]"), std::string_view::npos) << s.to_string();
  EXPECT_NE(s.message().find("Bogus"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"type":"Replace","pattern":{"Regex":"("},"content":"x"})");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("$.normalizer.pattern.Regex"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"type":"Replace","pattern":"a","content":"x"})");
  EXPECT_NE(s.message().find("$.normalizer.pattern"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"type":"BertNormalizer","clean_text":1,"handle_chinese_chars":true,
                     "lowercase":true})");
  EXPECT_NE(s.message().find("$.normalizer.clean_text"), std::string_view::npos) << s.to_string();

  s = load_error(R"({"no_type":1})");
  EXPECT_NE(s.message().find("type"), std::string_view::npos) << s.to_string();
}

}  // namespace
}  // namespace keel::tokenizer
