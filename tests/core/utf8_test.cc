#include "keel/core/utf8.h"

#include <gtest/gtest.h>

namespace keel::utf8 {
namespace {

TEST(Utf8Test, ValidTextPasses) {
  EXPECT_TRUE(validate("hello, wörld — 日本語 🤖").ok());
  EXPECT_EQ(find_invalid(""), std::string_view::npos);
}

TEST(Utf8Test, InvalidTextNamesOffset) {
  std::string s = "abc\xC3(";
  Status st = validate(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("byte offset 3"), std::string_view::npos) << st.message();
  EXPECT_EQ(find_invalid("0123456789ab\xFF"), 12u);
}

TEST(Utf8Test, RejectsSurrogatesOverlongsAndTooLarge) {
  EXPECT_EQ(find_invalid("\xED\xA0\x80"), 0u);      // U+D800
  EXPECT_EQ(find_invalid("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(find_invalid("\xE0\x80\xAF"), 0u);      // overlong
  EXPECT_EQ(find_invalid("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF
}

// Expected values follow Rust's String::from_utf8_lossy (maximal subparts).
TEST(Utf8Test, LossyReplacesMaximalSubparts) {
  EXPECT_EQ(to_valid_lossy("a\xF0\x9F\x98z"), "a\uFFFDz");  // truncated 4-byte: one U+FFFD
  EXPECT_EQ(to_valid_lossy("\xC0\xAF"), "\uFFFD\uFFFD");     // invalid lead, then stray continuation
  EXPECT_EQ(to_valid_lossy("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(to_valid_lossy("\xE2\x82"), "\uFFFD");
  EXPECT_EQ(to_valid_lossy("ok"), "ok");
}

TEST(Utf8Test, CompletePrefixStopsBeforeUnfinishedCharacter) {
  EXPECT_EQ(complete_prefix_length("ab\xE6\x97"), 2u);  // 日 missing a byte
  EXPECT_EQ(complete_prefix_length("ab\xE6\x97\xA5"), 5u);
  EXPECT_EQ(complete_prefix_length("ab\xF0"), 2u);
  EXPECT_EQ(complete_prefix_length("ab\xFF"), 3u);  // invalid, not unfinished
  EXPECT_EQ(complete_prefix_length(""), 0u);
}

TEST(Utf8Test, AppendEncodes) {
  std::string s;
  append(s, U'a');
  append(s, U'é');
  append(s, U'日');
  append(s, U'🤖');
  EXPECT_EQ(s, "aé日🤖");
  size_t pos = 0;
  std::u32string cps;
  while (pos < s.size()) {
    Decoded d = decode(s, pos);
    ASSERT_TRUE(d.valid);
    cps.push_back(d.code_point);
    pos += d.length;
  }
  EXPECT_EQ(cps, U"aé日🤖");
}

}  // namespace
}  // namespace keel::utf8
