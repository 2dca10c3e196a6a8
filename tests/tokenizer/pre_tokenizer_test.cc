// Unit tests of the pre-tokenizers built through make_pre_tokenizer: their
// behaviour on small inputs, span bookkeeping, and errors on bad JSON.
// (pre_tokenizer_golden_test.cc compares them with HF on thousands of texts.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/pre_tokenizers/byte_level_alphabet.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* kPath = "$.pre_tokenizer";

std::unique_ptr<PreTokenizer> make(const std::string& text, bool raw = false) {
  auto made = make_pre_tokenizer(json::parse(text), kPath, StageOptions{raw});
  EXPECT_TRUE(made.ok()) << made.status().to_string();
  return made.ok() ? std::move(made).value() : nullptr;
}

Status make_error(const std::string& text) {
  auto made = make_pre_tokenizer(json::parse(text), kPath, StageOptions{});
  EXPECT_FALSE(made.ok()) << "expected an error for " << text;
  return made.ok() ? OkStatus() : made.status();
}

// "piece(orig_begin,orig_end)" for every resulting span.
std::vector<std::string> run(const PreTokenizer& pt, PieceList pl) {
  const Status s = pt.pre_tokenize(pl);
  EXPECT_TRUE(s.ok()) << s.to_string();
  std::vector<std::string> out;
  for (const Span& sp : pl.spans) {
    out.push_back(fmt::format("{}({},{})", pl.view(sp), sp.orig_begin, sp.orig_end));
  }
  return out;
}

std::vector<std::string> run(const PreTokenizer& pt, const std::string& text) {
  PieceList pl;
  pl.add_copy(text, 0, static_cast<uint32_t>(text.size()));
  return run(pt, std::move(pl));
}

TEST(ByteLevelAlphabet, IsABijectionMatchingGpt2) {
  EXPECT_EQ(byte_level::byte_to_char(' '), U'Ġ');
  EXPECT_EQ(byte_level::byte_to_char('\n'), U'Ċ');
  EXPECT_EQ(byte_level::byte_to_char('a'), U'a');
  EXPECT_EQ(byte_level::byte_to_char(0xAD), char32_t{0x143});
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(byte_level::char_to_byte(byte_level::byte_to_char(static_cast<uint8_t>(b))), b);
  }
  EXPECT_FALSE(byte_level::char_to_byte(U'\x7f').has_value());
  EXPECT_FALSE(byte_level::char_to_byte(U'€').has_value());
}

TEST(PreTokenizerFactory, NullIsNoStage) {
  auto made = make_pre_tokenizer(json(nullptr), kPath, StageOptions{});
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(*made, nullptr);
}

TEST(PreTokenizerFactory, UnknownTypeIsUnimplementedNamingTypeAndPath) {
  const Status s = make_error(R"({"type": "Fancy"})");
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("$.pre_tokenizer"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'Fancy'"));
}

TEST(PreTokenizerFactory, ErrorsInsideSequenceNameTheElement) {
  const Status s = make_error(
      R"({"type": "Sequence", "pretokenizers": [{"type": "Whitespace"},
          {"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated", "invert": false}]})");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("$.pre_tokenizer.pretokenizers[1].pattern.Regex"));
  const Status missing = make_error(R"({"type": "Sequence"})");
  EXPECT_THAT(std::string(missing.message()), HasSubstr("'pretokenizers'"));
  const Status null_item = make_error(R"({"type": "Sequence", "pretokenizers": [null]})");
  EXPECT_THAT(std::string(null_item.message()), HasSubstr("pretokenizers[0]: expected a"));
}

TEST(PreTokenizerFactory, SplitErrors) {
  EXPECT_THAT(std::string(make_error(R"({"type": "Split", "behavior": "Isolated"})").message()),
              HasSubstr("missing required field 'pattern'"));
  EXPECT_THAT(std::string(make_error(R"({"type": "Split", "pattern": {"Rx": "a"},
                                        "behavior": "Isolated"})")
                              .message()),
              HasSubstr("$.pre_tokenizer.pattern: expected an object with a \"Regex\""));
  const Status behavior =
      make_error(R"({"type": "Split", "pattern": {"String": "a"}, "behavior": "Sideways"})");
  EXPECT_EQ(behavior.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(behavior.message()),
              HasSubstr("$.pre_tokenizer.behavior: unknown split behavior 'Sideways'"));
  EXPECT_THAT(std::string(make_error(R"({"type": "Split", "pattern": {"String": "a"},
                                        "behavior": "Isolated", "invert": "yes"})")
                              .message()),
              HasSubstr("$.pre_tokenizer.invert: expected a boolean"));
}

TEST(PreTokenizerFactory, MetaspaceErrors) {
  EXPECT_THAT(std::string(make_error(R"({"type": "Metaspace", "replacement": "ab"})").message()),
              HasSubstr("$.pre_tokenizer.replacement: expected exactly one character"));
  EXPECT_THAT(
      std::string(
          make_error(R"({"type": "Metaspace", "replacement": "_", "prepend_scheme": "sometimes"})")
              .message()),
      HasSubstr("unknown prepend_scheme 'sometimes'"));
  EXPECT_THAT(
      std::string(
          make_error(R"({"type": "Metaspace", "replacement": "_", "add_prefix_space": false})")
              .message()),
      HasSubstr("add_prefix_space is false but prepend_scheme is \"always\""));
}

TEST(PreTokenizerFactory, OtherFieldErrors) {
  EXPECT_THAT(std::string(make_error(R"({"type": "ByteLevel", "add_prefix_space": 1})").message()),
              HasSubstr("$.pre_tokenizer.add_prefix_space: expected a boolean"));
  EXPECT_THAT(std::string(make_error(R"({"type": "CharDelimiterSplit"})").message()),
              HasSubstr("missing required field 'delimiter'"));
  EXPECT_THAT(std::string(make_error(R"({"type": "Punctuation", "behavior": "x"})").message()),
              HasSubstr("unknown split behavior 'x'"));
  EXPECT_EQ(make_error(R"([1, 2])").code(), StatusCode::kInvalidArgument);
}

TEST(PreTokenizerFactory, ContainsByteLevel) {
  EXPECT_TRUE(contains_byte_level(json::parse(R"({"type": "ByteLevel"})")));
  EXPECT_TRUE(contains_byte_level(json::parse(
      R"({"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "ByteLevel"}]})")));
  EXPECT_FALSE(contains_byte_level(json::parse(R"({"type": "Metaspace"})")));
  EXPECT_FALSE(contains_byte_level(json(nullptr)));
  EXPECT_FALSE(contains_byte_level(json::parse(R"({"type": "Sequence", "pretokenizers": 3})")));
}

TEST(Split, BehaviorsOnALiteral) {
  auto split = [](const char* behavior, bool invert) {
    return make(fmt::format(
        R"({{"type": "Split", "pattern": {{"String": "-"}}, "behavior": "{}", "invert": {}}})",
        behavior, invert));
  };
  EXPECT_THAT(run(*split("Removed", false), "a-b--c"), ElementsAre("a(0,1)", "b(2,3)", "c(5,6)"));
  EXPECT_THAT(run(*split("Isolated", false), "a-b"), ElementsAre("a(0,1)", "-(1,2)", "b(2,3)"));
  EXPECT_THAT(run(*split("MergedWithPrevious", false), "a-b--c"),
              ElementsAre("a-(0,2)", "b-(2,4)", "-(4,5)", "c(5,6)"));
  EXPECT_THAT(run(*split("MergedWithNext", false), "a-b--c"),
              ElementsAre("a(0,1)", "-b(1,3)", "-(3,4)", "-c(4,6)"));
  EXPECT_THAT(run(*split("Contiguous", false), "a-b--c"),
              ElementsAre("a(0,1)", "-(1,2)", "b(2,3)", "--(3,5)", "c(5,6)"));
  EXPECT_THAT(run(*split("Removed", true), "a-b--c"), ElementsAre("-(1,2)", "-(3,4)", "-(4,5)"));
}

TEST(Split, OriginalOffsetsFollowTheInputSpans) {
  auto ws = make(R"({"type": "WhitespaceSplit"})");
  PieceList pl;
  pl.add_copy("ab cd", 10, 15);
  pl.add_copy("ef", 20, 22);
  EXPECT_THAT(run(*ws, std::move(pl)), ElementsAre("ab(10,12)", "cd(13,15)", "ef(20,22)"));
  // A normalizer-changed piece (orig range shorter than the bytes) is clamped.
  PieceList changed;
  changed.add_copy("ab cd", 3, 4);
  EXPECT_THAT(run(*ws, std::move(changed)), ElementsAre("ab(3,4)", "cd(4,4)"));
}

TEST(Split, Llama3PatternUsesTheScanner) {
  auto split = make(R"({"type": "Split", "pattern": {"Regex":
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
      "behavior": "Isolated", "invert": false})");
  EXPECT_THAT(run(*split, "He's 1234!\n"),
              ElementsAre("He(0,2)", "'s(2,4)", " (4,5)", "123(5,8)", "4(8,9)", "!\n(9,11)"));
}

TEST(ByteLevel, MapsBytesAndAddsThePrefixSpace) {
  auto bl = make(R"({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true})");
  EXPECT_THAT(run(*bl, "hello world\n"), ElementsAre("Ġhello(0,5)", "Ġworld(5,11)", "Ċ(11,12)"));
  EXPECT_THAT(run(*bl, " é"), ElementsAre("ĠÃ©(0,3)"));
}

TEST(ByteLevel, RawModeKeepsBytes) {
  auto bl = make(R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true})", true);
  EXPECT_THAT(run(*bl, "hello world"), ElementsAre(" hello(0,5)", " world(5,11)"));
  auto plain =
      make(R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": false})", true);
  EXPECT_THAT(run(*plain, "a b"), ElementsAre("a b(0,3)"));
}

TEST(Metaspace, PrependSchemes) {
  auto first = make(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"})");
  PieceList pl;
  pl.add_copy("a b", 0, 3);
  pl.add_copy("c", 7, 8);
  EXPECT_THAT(run(*first, std::move(pl)), ElementsAre("▁a(0,1)", "▁b(1,3)", "c(7,8)"));
  auto always = make(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                         "split": false})");
  EXPECT_THAT(run(*always, "a  b"), ElementsAre("▁a▁▁b(0,4)"));
  auto never = make(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"})");
  EXPECT_THAT(run(*never, "a  b"), ElementsAre("a(0,1)", "▁(1,2)", "▁b(2,4)"));
}

TEST(CharSplits, DigitsPunctuationBertDelimiter) {
  EXPECT_THAT(run(*make(R"({"type": "Digits", "individual_digits": true})"), "a12"),
              ElementsAre("a(0,1)", "1(1,2)", "2(2,3)"));
  EXPECT_THAT(run(*make(R"({"type": "Digits"})"), "a12b"),
              ElementsAre("a(0,1)", "12(1,3)", "b(3,4)"));
  EXPECT_THAT(run(*make(R"({"type": "Punctuation"})"), "hi!?"),
              ElementsAre("hi(0,2)", "!(2,3)", "?(3,4)"));
  EXPECT_THAT(run(*make(R"({"type": "BertPreTokenizer"})"), "Hi, you!"),
              ElementsAre("Hi(0,2)", ",(2,3)", "you(4,7)", "!(7,8)"));
  EXPECT_THAT(run(*make(R"({"type": "CharDelimiterSplit", "delimiter": "x"})"), "axbxxc"),
              ElementsAre("a(0,1)", "b(2,3)", "c(5,6)"));
  EXPECT_THAT(run(*make(R"({"type": "Whitespace"})"), "it's ok"),
              ElementsAre("it(0,2)", "'(2,3)", "s(3,4)", "ok(5,7)"));
}

TEST(PreTokenizer, EmptyPiecesAreDropped) {
  for (const char* cfg : {R"({"type": "Whitespace"})", R"({"type": "ByteLevel"})",
                          R"({"type": "Metaspace", "replacement": "▁"})"}) {
    EXPECT_TRUE(run(*make(cfg), "").empty()) << cfg;
  }
}

TEST(PreTokenizer, ConcurrentUseGivesTheSameResult) {
  auto seq = make(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithNext", "invert": false},
      {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"},
      {"type": "ByteLevel", "add_prefix_space": true}]})");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "word" + std::to_string(i) + " 'tis  ünïcode\n";
  const auto want = run(*seq, text);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (run(*seq, text) != want) bad.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace keel::tokenizer
