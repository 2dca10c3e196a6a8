// Differential tests: every hand-written Scanner must yield exactly the
// matches of its pattern run through Regex (PCRE2, with keel's Oniguruma
// translation), on random and adversarial text, on every code point in many
// contexts, and on real text from /usr/share.
#include "keel/tokenizer/pre_tokenizers/scanner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "keel/core/utf8.h"

namespace keel::tokenizer {
namespace {

const std::vector<std::string_view> kPatterns = {kGpt2Pattern, kLlama3Pattern, kQwen2Pattern};

std::string cp(char32_t c) {
  std::string s;
  utf8::append(s, c);
  return s;
}

// Pieces of text chosen to hit every alternative and its boundaries.
const std::vector<std::string>& pool() {
  static const std::vector<std::string> p = [] {
    std::vector<std::string> v = {
        "a",           "Z",      "e",           "s",          "t",        "S",
        "T",           "d",      "D",           "m",          "M",        "l",
        "L",           "ll",     "LL",          "re",         "RE",       "Re",
        "ve",          "VE",     "x",           "é",          "ß",        "ſ",
        "K",           "İ",      "中",          "日本",       "한",       "ア",
        "ｱ",           "й",      "Ω",           "ا",          "ש",        "ก",
        "ह",           "ि",      "\u0301",      "\u0308",     "\u0903",   "\u094d",
        "\u200d",      "\ufe0f", "0",           "1",          "12",       "123",
        "1234",        "٣",      "５",          "²",          "½",        "Ⅻ",
        "𝟘",           "߂",      "\U00010D40",  "'",          "'",        "''",
        "'s",          "'S",     "'t",          "'T",         "'re",      "'rE",
        "'Re",         "'RE",    "'ve",         "'VE",        "'m",       "'M",
        "'ll",         "'Ll",    "'LL",         "'d",         "'D",       "'ſ",
        "'x",          "’s",     ".",           ",",          "!",        "?",
        "-",           "(",      ")",           "\"",         "#",        "$",
        "%",           "&",      "*",           "/",          ":",        ";",
        "<",           "@",      "[",           "\\",         "^",        "_",
        "`",           "{",      "|",           "~",          "«",        "—",
        "…",           "“",      "·",           "😀",          "👍🏽", "👨‍👩‍👧",
        "🇫🇷",          "❤️", "🧑‍💻", " ",          " ",        " ",
        "  ",          "   ",    "\t",          "\n",         "\r",       "\r\n",
        "\n\n",        "\r\r",   " \n",         "\n ",        "\v",       "\f",
        "\u00a0",      "\u2000", "\u2003",      "\u200a",     "\u3000",   "\u0085",
        "\u180e",      "\u200b", "\u2028",      "\u2029",     "\u1680",   "\u202f",
        "\u205f",      "\u001c", "\u001f",      "\U0010FFFF", "\ue000",   "\u0378",
        "\ufffd",      "\u1c89", "\ua7cb",      "\U0001E5D0", "hello",    "world",
        "The",         "don't",  "I'M",         "we'VE",      "x86_64",   "3.14159",
        "http://a.b/c"};
    return v;
  }();
  return p;
}

std::string random_text(std::mt19937& rng, int max_parts) {
  std::uniform_int_distribution<int> parts(1, max_parts);
  std::uniform_int_distribution<size_t> pick(0, pool().size() - 1);
  std::uniform_int_distribution<uint32_t> any_cp(0, 0x10FFFF);
  std::uniform_int_distribution<int> coin(0, 9);
  std::string s;
  for (int n = parts(rng); n > 0; --n) {
    if (coin(rng) == 0) {
      char32_t c = any_cp(rng);
      if (c >= 0xD800 && c <= 0xDFFF) c = 'q';
      s += cp(c);
    } else {
      s += pool()[pick(rng)];
    }
  }
  return s;
}

std::string show(std::string_view text, const std::vector<RegexMatch>& ms) {
  std::string out;
  for (const RegexMatch& m : ms) {
    out += "[" + std::string(text.substr(m.begin, m.end - m.begin)) + "]";
  }
  return out;
}

// Compares one scanner against PCRE2 on `text`; returns false (and reports)
// on a difference.
bool same_as_pcre2(const Scanner& scanner, const Regex& regex, std::string_view text) {
  std::vector<RegexMatch> got;
  scanner.scan(text, got);
  auto want = regex.find_all(text);
  EXPECT_TRUE(want.ok()) << want.status().to_string();
  if (!want.ok() || got == *want) return true;
  size_t k = 0;
  while (k < got.size() && k < want->size() && got[k] == (*want)[k]) ++k;
  const size_t from = k > 0 ? (*want)[k - 1].begin : 0;
  const size_t to = std::min(text.size(), from + 60);
  ADD_FAILURE() << scanner.name() << " differs from PCRE2 at match " << k << " near byte " << from
                << ": text there " << std::string(text.substr(from, to - from))
                << "\n got: " << show(text, got).substr(0, 300)
                << "\nwant: " << show(text, *want).substr(0, 300);
  return false;
}

struct Pair {
  std::unique_ptr<Scanner> scanner;
  Regex regex;
};

std::vector<Pair> pairs() {
  std::vector<Pair> v;
  for (std::string_view p : kPatterns) {
    auto scanner = make_scanner(p);
    auto regex = Regex::compile(p);
    EXPECT_NE(scanner, nullptr);
    EXPECT_TRUE(regex.ok());
    if (scanner && regex.ok()) v.push_back(Pair{std::move(scanner), *regex});
  }
  return v;
}

TEST(Scanner, RecognisesOnlyTheExactPatterns) {
  EXPECT_EQ(make_scanner(kGpt2Pattern)->name(), "gpt2");
  EXPECT_EQ(make_scanner(kLlama3Pattern)->name(), "llama3");
  EXPECT_EQ(make_scanner(kQwen2Pattern)->name(), "qwen2");
  EXPECT_EQ(make_scanner(std::string(kGpt2Pattern) + "|x"), nullptr);
  EXPECT_EQ(make_scanner("\\s+"), nullptr);
}

TEST(Scanner, HandPickedCases) {
  const auto llama = make_scanner(kLlama3Pattern);
  std::vector<RegexMatch> ms;
  const std::string text = "I'M 12345 don't\r\n\r\n  x  ";
  llama->scan(text, ms);
  EXPECT_EQ(show(text, ms), "[I]['M][ ][123][45][ don]['t][\r\n\r\n][ ][ x][  ]");
}

TEST(Scanner, RandomTextMatchesPcre2) {
  std::mt19937 rng(20261126);
  int failures = 0;
  for (const Pair& p : pairs()) {
    for (int i = 0; i < 50000 && failures < 5; ++i) {
      failures += !same_as_pcre2(*p.scanner, p.regex, random_text(rng, 12));
    }
  }
}

TEST(Scanner, EveryCodePointInContextMatchesPcre2) {
  // Each code point between contexts that exercise every alternative's
  // boundary (a leading space, apostrophe, letters, digits, newlines).
  const std::vector<std::pair<std::string, std::string>> contexts = {
      {"", ""}, {" ", "a"}, {"'", "1"}, {"\n", " "}, {"  ", "!\r\n"}, {"a", "'ll"}};
  for (const Pair& p : pairs()) {
    for (const auto& [before, after] : contexts) {
      std::string text;
      // All of planes 0-3 and 14-16; a sample of the unassigned planes 4-13.
      for (char32_t c = 0; c < 0x110000; c += (c >= 0x40000 && c < 0xE0000) ? 257 : 1) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        text += before;
        text += cp(c);
        text += after;
        if (text.size() > (1u << 16)) {
          if (!same_as_pcre2(*p.scanner, p.regex, text)) return;
          text.clear();
        }
      }
      if (!same_as_pcre2(*p.scanner, p.regex, text)) return;
    }
  }
}

TEST(Scanner, RealTextMatchesPcre2) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/share/common-licenses", ec)) {
    files.push_back(e.path());
  }
  for (const auto& e : std::filesystem::directory_iterator("/usr/share/doc", ec)) {
    if (std::filesystem::exists(e.path() / "copyright")) files.push_back(e.path() / "copyright");
  }
  if (files.empty()) GTEST_SKIP() << "no text under /usr/share on this machine";
  size_t bytes = 0;
  for (const Pair& p : pairs()) {
    for (const auto& f : files) {
      std::ifstream in(f);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = utf8::to_valid_lossy(ss.str());
      bytes += text.size();
      if (!same_as_pcre2(*p.scanner, p.regex, text)) return;
    }
  }
  EXPECT_GT(bytes, 10000u);
}

TEST(Scanner, InvalidUtf8NeverReadsOutOfBounds) {
  // Not a valid input (the tokenizer validates first), but it must be safe:
  // matches stay inside the text and tile it.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 12);
  for (const Pair& p : pairs()) {
    for (int i = 0; i < 20000; ++i) {
      std::string s(static_cast<size_t>(len(rng)), '\0');
      for (char& c : s) c = static_cast<char>(byte(rng));
      std::vector<RegexMatch> ms;
      p.scanner->scan(s, ms);
      size_t prev = 0;
      for (const RegexMatch& m : ms) {
        ASSERT_EQ(m.begin, prev);
        ASSERT_GT(m.end, m.begin);
        prev = m.end;
      }
      ASSERT_EQ(prev, s.size());
    }
  }
}

}  // namespace
}  // namespace keel::tokenizer
