#include "keel/tokenizer/regex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace keel::tokenizer {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> match_texts(const Regex& re, std::string_view text) {
  auto ms = re.find_all(text);
  EXPECT_TRUE(ms.ok()) << ms.status().to_string();
  std::vector<std::string> out;
  if (!ms.ok()) return out;
  for (const RegexMatch& m : *ms) out.emplace_back(text.substr(m.begin, m.end - m.begin));
  return out;
}

Regex compile(std::string_view p) {
  auto re = Regex::compile(p);
  EXPECT_TRUE(re.ok()) << re.status().to_string();
  return *re;
}

TEST(Regex, FindsAllMatchesAsByteRanges) {
  const Regex re = compile("\\p{L}+");
  auto ms = re.find_all("ab 12 çé");
  ASSERT_TRUE(ms.ok());
  ASSERT_EQ(ms->size(), 2u);
  EXPECT_EQ((*ms)[0], (RegexMatch{0, 2}));
  EXPECT_EQ((*ms)[1], (RegexMatch{6, 10}));
  EXPECT_TRUE(re.jit());
}

TEST(Regex, FindStartsAtAnOffsetAndSeesLookbehindBeforeIt) {
  const Regex re = compile("(?<=a)b");
  auto m = re.find("abab", 1);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ(**m, (RegexMatch{1, 2}));
  auto none = re.find("abab", 4);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(Regex, EmptyMatchesFollowOnigurumaIteration) {
  // onig's find_iter: an empty match right after a match is skipped.
  EXPECT_EQ(match_texts(compile("a*"), "baab"), (std::vector<std::string>{"", "aa", ""}));
  EXPECT_EQ(match_texts(compile(""), "ab").size(), 3u);
  EXPECT_EQ(match_texts(compile("x*"), "é").size(), 2u);  // steps over a whole character
}

TEST(Regex, BadPatternIsInvalidArgumentWithOffset) {
  auto re = Regex::compile("(ab");
  ASSERT_FALSE(re.ok());
  EXPECT_EQ(re.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(re.status().message()), HasSubstr("'(ab' does not compile"));
  EXPECT_THAT(std::string(re.status().message()), HasSubstr("at offset 3"));
  auto trailing = Regex::compile("ab\\");
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(trailing.status().message()), HasSubstr("trailing backslash"));
}

TEST(Regex, InvalidUtf8PatternIsRejected) {
  auto re = Regex::compile("a\xff");
  ASSERT_FALSE(re.ok());
  EXPECT_EQ(re.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(re.status().message()), HasSubstr("invalid UTF-8 at byte 1"));
}

TEST(Regex, EscapeMakesLiterals) {
  for (std::string_view lit : {".*+?()[]{}|^$\\", "a b", "▁", "#-&~", "\t\n", "\\E\\Q"}) {
    auto re = Regex::compile_literal(lit);
    ASSERT_TRUE(re.ok()) << re.status().to_string();
    const std::string text = "x" + std::string(lit) + "y" + std::string(lit);
    EXPECT_EQ(match_texts(*re, text),
              (std::vector<std::string>{std::string(lit), std::string(lit)}))
        << lit;
  }
}

TEST(Regex, OnigurumaSpaceIncludesNelButNotMongolianVowelSeparator) {
  const Regex re = compile("\\s");
  EXPECT_EQ(match_texts(re, "a\u0085b").size(), 1u);
  EXPECT_TRUE(match_texts(re, "a\u180eb\u200bc\x1c").empty());
  EXPECT_EQ(match_texts(compile("[^\\s]+"), "a\u0085b"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(match_texts(compile("\\S+"), "a\u0085b"), (std::vector<std::string>{"a", "b"}));
}

TEST(Regex, OnigurumaHIsAHexDigit) {
  EXPECT_EQ(match_texts(compile("\\h+"), "xx0fAgz"), (std::vector<std::string>{"0fA"}));
  EXPECT_EQ(match_texts(compile("\\H+"), "xx0fAgz"), (std::vector<std::string>{"xx", "gz"}));
}

TEST(Regex, OnigurumaWordIncludesMarksAndConnectors) {
  // As the HF reference answers (PCRE2's own \w would split off the mark).
  EXPECT_EQ(match_texts(compile("\\w+"), "e\u0301x ½ a‿b"),
            (std::vector<std::string>{"e\u0301x", "½", "a‿b"}));
  EXPECT_EQ(match_texts(compile("\\bx"), "ax e\u0301x x"), (std::vector<std::string>{"x"}));
}

TEST(Regex, PropertiesUseTheReferenceUnicodeVersion) {
  // U+1C89 and U+10D40.. are letters/digits in Unicode 16 (Oniguruma in HF).
  EXPECT_EQ(match_texts(compile("\\p{L}"), "\u1c89").size(), 1u);
  EXPECT_EQ(match_texts(compile("\\p{N}"), "\U00010D40").size(), 1u);
  EXPECT_EQ(match_texts(compile("\\p{^L}+"), "ab12"), (std::vector<std::string>{"12"}));
  EXPECT_EQ(match_texts(compile("\\P{N}+"), "ab12"), (std::vector<std::string>{"ab"}));
}

TEST(Regex, RubyMultilineOptionIsDotAll) {
  EXPECT_EQ(match_texts(compile("(?m)a.b"), "a\nb"), (std::vector<std::string>{"a\nb"}));
  EXPECT_TRUE(match_texts(compile("a.b"), "a\nb").empty());
  EXPECT_EQ(match_texts(compile("^x"), "x\nx"), (std::vector<std::string>{"x", "x"}));
}

TEST(Regex, CaseInsensitiveGroupFoldsLongS) {
  EXPECT_EQ(match_texts(compile("(?i:'s)"), "'S 'ſ 's"),
            (std::vector<std::string>{"'S", "'ſ", "'s"}));
}

TEST(Regex, TranslationLeavesOrdinarySyntaxAlone) {
  auto t = translate_oniguruma("(?:a|b)+[x-z]\\.\\(");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "(?:a|b)+[x-z]\\.\\(");
}

TEST(Regex, UnsupportedOnigurumaClassSyntaxIsRefused) {
  for (std::string_view p : {"[a-z&&[^aeiou]]", "[a[bc]]"}) {
    auto re = Regex::compile(p);
    ASSERT_FALSE(re.ok()) << p;
    EXPECT_EQ(re.status().code(), StatusCode::kUnimplemented);
    EXPECT_THAT(std::string(re.status().message()), HasSubstr("not supported")) << p;
  }
  EXPECT_EQ(match_texts(compile("[[:digit:]x]+"), "a1x2b"), (std::vector<std::string>{"1x2"}));
}

TEST(Regex, ManyThreadsMatchConcurrently) {
  const Regex re = compile("\\s+(?!\\S)|\\p{L}+");
  const std::string text(100000, ' ');
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto ms = re.find_all(text + "abc");
        if (!ms.ok() || ms->size() != 2) bad.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace keel::tokenizer
