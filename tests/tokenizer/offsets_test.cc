// Token offsets: the alignment machinery (HF's NormalizedString semantics),
// each normalizer's alignments on hand-checked cases, the aligned rewrite
// producing exactly the plain rewrite's text, the char-offset conversion,
// lossy input, and the SentencePiece .model path. offsets_golden_test.cc
// checks everything against HF itself.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/testdata.h"
#include "keel/core/utf8.h"
#include "keel/tokenizer/alignment.h"
#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/sentencepiece/sentencepiece_model.h"
#include "keel/tokenizer/tokenizer.h"
#include "tokenizer/sentencepiece_differential_util.h"
#include "tokenizer/sentencepiece_test_util.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;

// The alignment of each character of `s`, as "begin:end" (byte offsets).
std::vector<std::string> char_alignments(const AlignedString& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.text.size();) {
    const utf8::Decoded d = utf8::decode(s.text, i);
    out.push_back(std::to_string(s.align[i].begin) + ":" + std::to_string(s.align[i].end));
    for (size_t k = 1; k < d.length; ++k) {
      EXPECT_EQ(s.align[i + k], s.align[i]) << "bytes of one character share their alignment";
    }
    i += d.length;
  }
  return out;
}

AlignedString normalize(const std::string& normalizer_json, std::string_view text,
                        uint32_t origin = 0) {
  auto n = make_normalizer(json::parse(normalizer_json), "$.normalizer");
  EXPECT_TRUE(n.ok()) << n.status().to_string();
  AlignedString s;
  s.assign(text, origin);
  EXPECT_TRUE((*n)->normalize_aligned(s).ok());
  std::string plain;
  EXPECT_TRUE((*n)->normalize(text, plain).ok());
  EXPECT_EQ(s.text, plain) << normalizer_json;
  EXPECT_EQ(s.align.size(), s.text.size());
  return s;
}

using V = std::vector<std::string>;

TEST(AlignedStringTest, AssignAlignsEveryByteToItsCharacter) {
  AlignedString s;
  s.assign("aé😀", 10);
  EXPECT_EQ(char_alignments(s), (V{"10:11", "11:13", "13:17"}));
  EXPECT_EQ(s.orig_begin, 10u);
  EXPECT_EQ(s.orig_end, 17u);
  EXPECT_EQ(s.original_range(1, 7), (Alignment{11, 17}));
}

TEST(AlignedStringTest, TransformChanges) {
  AlignedString s;
  s.assign("abc", 0);
  // x replaces a, y is inserted after it, z replaces b and removes c.
  const CharChange changes[] = {{U'x', 0}, {U'y', 1}, {U'z', -1}};
  s.transform(changes, 0);
  EXPECT_EQ(s.text, "xyz");
  EXPECT_EQ(char_alignments(s), (V{"0:1", "0:1", "1:2"}));
  // initial_offset skips removed characters; an insertion takes the range
  // of the byte before it...
  AlignedString t;
  t.assign("abc", 5);
  const CharChange more[] = {{U'_', 1}, {U'c', 0}};
  t.transform(more, 2);
  EXPECT_EQ(t.text, "_c");
  EXPECT_EQ(char_alignments(t), (V{"6:7", "7:8"}));
  // ... or an empty range at the very start.
  t.assign("ab", 5);
  const CharChange first[] = {{U'_', 1}, {U'a', 0}, {U'b', 0}};
  t.transform(first, 0);
  EXPECT_EQ(t.text, "_ab");
  EXPECT_EQ(char_alignments(t), (V{"5:5", "5:6", "6:7"}));
}

TEST(NormalizerAlignmentTest, UnicodeForms) {
  // NFD: the decomposed mark is inserted after its base (same range).
  EXPECT_EQ(char_alignments(normalize(R"({"type":"NFD"})", "é")), (V{"0:2", "0:2"}));
  // NFC: a composed character takes only its first part's range, as HF.
  EXPECT_EQ(char_alignments(normalize(R"({"type":"NFC"})", "e\u0301x")), (V{"0:1", "3:4"}));
  // Reordered marks keep the positions, not their characters (HF).
  EXPECT_EQ(char_alignments(normalize(R"({"type":"NFD"})", "q\u0307\u0323")),
            (V{"0:1", "1:3", "3:5"}));
  // A mark that does not compose follows its composed starter.
  EXPECT_EQ(char_alignments(normalize(R"({"type":"NFC"})", "a\u0301\u0323")),
            (V{"0:1", "3:5"}));
  // NFKC: one character to several.
  EXPECT_EQ(char_alignments(normalize(R"({"type":"NFKC"})", "ﬁx")), (V{"0:3", "0:3", "3:4"}));
}

TEST(NormalizerAlignmentTest, CharacterMaps) {
  EXPECT_EQ(char_alignments(normalize(R"({"type":"Lowercase"})", "Aİ")),
            (V{"0:1", "1:3", "1:3"}));
  EXPECT_EQ(char_alignments(normalize(R"({"type":"StripAccents"})", "e\u0301\u0301x")),
            (V{"0:1", "5:6"}));
  EXPECT_EQ(char_alignments(normalize(R"({"type":"Nmt"})", "a\x01\tb")),
            (V{"0:1", "2:3", "3:4"}));
  EXPECT_EQ(char_alignments(normalize(R"({"type":"ByteLevel"})", " é")),
            (V{"0:1", "1:3", "1:3"}));
}

TEST(NormalizerAlignmentTest, StripPrependReplace) {
  EXPECT_EQ(char_alignments(normalize(R"({"type":"Strip","strip_left":true,"strip_right":true})",
                                      "  ab \u3000")),
            (V{"2:3", "3:4"}));
  EXPECT_EQ(char_alignments(normalize(R"({"type":"Prepend","prepend":"▁"})", "ab", 7)),
            (V{"7:8", "7:8", "8:9"}));
  // The content of a replaced match takes the match's last character.
  EXPECT_EQ(char_alignments(normalize(
                R"({"type":"Replace","pattern":{"String":"ab"},"content":"XY"})", "cab")),
            (V{"0:1", "2:3", "2:3"}));
  // An empty match at the start inserts with an empty range.
  EXPECT_EQ(char_alignments(normalize(
                R"({"type":"Replace","pattern":{"Regex":"x*"},"content":"_"})", "ab")),
            (V{"0:0", "0:1", "0:1", "1:2", "1:2"}));
  EXPECT_EQ(char_alignments(normalize(
                R"({"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},
                    {"type":"Replace","pattern":{"String":" "},"content":"▁"}]})",
                " x")),
            (V{"0:1", "0:1", "1:2"}));
}

TEST(NormalizerAlignmentTest, Bert) {
  // Chinese characters are padded with spaces that share their range.
  EXPECT_EQ(char_alignments(normalize(R"({"type":"BertNormalizer","clean_text":true,
      "handle_chinese_chars":true,"strip_accents":null,"lowercase":true})", "A中\u00E9")),
            (V{"0:1", "1:4", "1:4", "1:4", "4:6"}));
}

TEST(NormalizerAlignmentTest, AlignedTextEqualsPlainTextOnEveryCodePoint) {
  const char* configs[] = {
      R"({"type":"NFC"})", R"({"type":"NFD"})", R"({"type":"NFKC"})", R"({"type":"NFKD"})",
      R"({"type":"Lowercase"})", R"({"type":"StripAccents"})", R"({"type":"Nmt"})",
      R"({"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,
          "strip_accents":null,"lowercase":true})"};
  for (const char* c : configs) {
    auto n = make_normalizer(json::parse(c), "$.normalizer");
    ASSERT_TRUE(n.ok());
    size_t mismatches = 0;
    std::string text, plain;
    AlignedString s;
    // Each code point alone and after a base letter (to compose with it).
    for (char32_t cp = 1; cp < 0x110000; ++cp) {
      if (cp >= 0xD800 && cp < 0xE000) continue;
      if (cp >= 0x32000 && cp < 0xE0000) cp = 0xE0000;
      for (int pass = 0; pass < 2; ++pass) {
        text.clear();
        if (pass == 1) text = "a";
        utf8::append(text, cp);
        ASSERT_TRUE((*n)->normalize(text, plain).ok());
        s.assign(text, 0);
        ASSERT_TRUE((*n)->normalize_aligned(s).ok());
        if (s.text != plain && ++mismatches <= 5) {
          ADD_FAILURE() << c << " U+" << std::hex << static_cast<uint32_t>(cp) << ": aligned "
                        << json(s.text).dump() << " plain " << json(plain).dump();
        }
      }
    }
    EXPECT_EQ(mismatches, 0u) << c;
  }
}

TEST(CharOffsetsTest, HfConversion) {
  const std::string text = "aé😀b";  // bytes 0, 1-2, 3-6, 7
  const std::vector<Offsets> bytes = {{0, 1}, {1, 3}, {3, 7}, {7, 8},
                                      {0, 0}, {1, 8}, {8, 8}, {9, 9}};
  EXPECT_EQ(to_char_offsets(text, bytes), (std::vector<Offsets>{{0, 1}, {1, 2}, {2, 3}, {3, 4},
                                                                {0, 0}, {1, 4}, {4, 4}, {9, 9}}));
  // An ill-formed subpart counts as one character.
  EXPECT_EQ(to_char_offsets("a\xF0\x9F" "b", std::vector<Offsets>{{1, 3}, {3, 4}}),
            (std::vector<Offsets>{{1, 2}, {2, 3}}));
}

std::optional<Tokenizer> llama3() {
  auto path = testing::lenml_tokenizer("llama3");
  if (!path) return std::nullopt;
  auto t = Tokenizer::from_path(*path);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return *t;
}

TEST(TokenizerOffsetsTest, Llama3) {
  auto tok = llama3();
  if (!tok) GTEST_SKIP() << "npm test data missing";
  EncodeOptions o;
  o.offsets = true;
  auto e = tok->encode("Hello world", o);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->offsets, (std::vector<Offsets>{{0, 5}, {5, 11}}));
  // Byte-level tokens that split a character all cover the character.
  e = tok->encode("é😀", o);
  ASSERT_TRUE(e.ok());
  for (const auto& [b, end] : e->offsets) {
    EXPECT_TRUE((b == 0 && end == 2) || (b == 2 && end == 6)) << b << ":" << end;
  }
  // Special tokens in the text cover their text.
  e = tok->encode("<|begin_of_text|> hi", o);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->offsets, (std::vector<Offsets>{{0, 17}, {17, 20}}));
}

TEST(TokenizerOffsetsTest, LossyOffsetsIndexTheInputAsGiven) {
  auto tok = llama3();
  if (!tok) GTEST_SKIP() << "npm test data missing";
  EncodeOptions o;
  o.offsets = true;
  o.lossy_utf8 = true;
  const std::string text = "ab\xFF\xFE cd";
  auto e = tok->encode(text, o);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  ASSERT_FALSE(e->offsets.empty());
  EXPECT_EQ(e->offsets.back().second, text.size());
  for (size_t i = 1; i < e->offsets.size(); ++i) {
    EXPECT_LE(e->offsets[i - 1].first, e->offsets[i].first);
  }
  auto plain = tok->encode(text, EncodeOptions{.add_special_tokens = true, .lossy_utf8 = true});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->ids, e->ids);
  // Without lossy_utf8 invalid input is still an error naming the offset.
  o.lossy_utf8 = false;
  EXPECT_EQ(tok->encode(text, o).status().code(), StatusCode::kInvalidArgument);
}

TEST(TokenizerOffsetsTest, BatchesDoNotReturnOffsets) {
  auto tok = llama3();
  if (!tok) GTEST_SKIP() << "npm test data missing";
  EncodeOptions o;
  o.offsets = true;
  auto r = tok->encode_batch({"a"}, o, Deadline::after(std::chrono::seconds(10)));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// A Llama-style SentencePiece BPE model with byte fallback.
Tokenizer spm_tokenizer(bool remove_extra) {
  spm_test::TestModel m;
  m.model_type = 2;
  m.pieces = {{"<unk>", 0, spm_test::kUnknown}, {"<s>", 0, spm_test::kControl},
              {"</s>", 0, spm_test::kControl}};
  m.add_byte_pieces();
  for (const char* p : {"\u2581", "a", "b", "\u2581a", "ab", "\u2581ab", "c", "\u2581c"}) {
    m.pieces.push_back({p, -static_cast<float>(m.pieces.size()), spm_test::kNormal});
  }
  m.remove_extra_whitespaces = remove_extra;
  auto parts = load_sentencepiece_model(m.serialize());
  EXPECT_TRUE(parts.ok()) << parts.status().to_string();
  auto t = Tokenizer::from_parts(std::move(parts).value());
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return *t;
}

Result<Encoding> encode_offsets(const Tokenizer& t, std::string_view text, bool special) {
  EncodeOptions o;
  o.offsets = true;
  o.add_special_tokens = special;
  return t.encode(text, o);
}

TEST(SentencePieceOffsetsTest, AsTheEquivalentHfPipeline) {
  const Tokenizer t = spm_tokenizer(false);
  // The dummy prefix maps to the first character, an escaped space to itself.
  auto e = encode_offsets(t, "ab c", true);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->offsets, (std::vector<Offsets>{{0, 0}, {0, 2}, {2, 4}}));
  // Byte-fallback pieces each cover their whole character.
  e = encode_offsets(t, "\u00e9", false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->offsets, (std::vector<Offsets>{{0, 2}, {0, 2}, {0, 2}}));
  // A control piece in the text is a special token covering its text; the
  // text after it gets its own dummy prefix.
  e = encode_offsets(t, "a</s>b", false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->offsets, (std::vector<Offsets>{{0, 1}, {1, 5}, {5, 6}, {5, 6}}));
}

TEST(SentencePieceOffsetsTest, RemovedWhitespaceMapsNowhere) {
  const Tokenizer t = spm_tokenizer(true);
  auto e = encode_offsets(t, "  ab   c  ", false);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->offsets, (std::vector<Offsets>{{2, 4}, {4, 8}}));
  auto plain = t.encode("  ab   c  ", false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, e->ids);
}

// The real .model files (byte fallback BPE, nmt_nfkc Unigram): offsets mode
// gives the same ids, and ranges in order on character boundaries.
TEST(SentencePieceOffsetsTest, RealModelsAreConsistent) {
  size_t models = 0;
  for (const spm_diff::ModelCase& c : spm_diff::model_cases()) {
    std::string why;
    const auto path = spm_diff::prepare_model(c, why);
    if (path.empty()) continue;
    auto tok = Tokenizer::from_path(path.string());
    ASSERT_TRUE(tok.ok()) << c.name << ": " << tok.status().to_string();
    ++models;
    size_t bad = 0;
    for (const std::string& text : spm_diff::texts()) {
      auto e = encode_offsets(*tok, text, true);
      ASSERT_TRUE(e.ok()) << c.name << ": " << e.status().to_string();
      auto plain = tok->encode(text, true);
      ASSERT_TRUE(plain.ok());
      bool ok = *plain == e->ids && e->offsets.size() == e->ids.size();
      uint32_t prev_begin = 0, prev_end = 0;
      auto boundary = [&](uint32_t o) {
        return o == text.size() || (static_cast<unsigned char>(text[o]) & 0xC0) != 0x80;
      };
      for (const auto& [b, end] : e->offsets) {
        ok = ok && b <= end && end <= text.size() && boundary(b) && boundary(end) &&
             b >= prev_begin && end >= prev_end;
        if (b != end) prev_begin = b, prev_end = end;
      }
      if (!ok && ++bad <= 3) ADD_FAILURE() << c.name << ": " << spm_diff::describe(text);
    }
    EXPECT_EQ(bad, 0u) << c.name;
  }
  if (models == 0) GTEST_SKIP() << "no SentencePiece models available";
}

}  // namespace
}  // namespace keel::tokenizer
