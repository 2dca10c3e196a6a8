#include "keel/memory/bytes.h"

#include <gtest/gtest.h>

namespace keel::memory {
namespace {

TEST(ParseBytesTest, AcceptsUnitsAndFractions) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  for (const Case& c : {
           Case{"1000000", 1000000},
           Case{"0", 0},
           Case{"2GiB", 2ull << 30},
           Case{"512MiB", 512ull << 20},
           Case{"1.5G", 3ull << 29},
           Case{"1.5GB", 1500000000},
           Case{"  4 kib ", 4096},
           Case{"4K", 4096},
           Case{"4KB", 4000},
           Case{"1T", 1ull << 40},
           Case{"1TB", 1000000000000},
           Case{"7B", 7},
           Case{".5M", 512ull << 10},
           Case{"3.", 3},
           Case{"1.0000000000000000000001KiB", 1024},  // digits past 18 are ignored
           Case{"18446744073709551615", UINT64_MAX},
       }) {
    auto r = parse_bytes(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().to_string();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(ParseBytesTest, RejectsBadInputWithUsefulMessages) {
  struct Case {
    const char* text;
    const char* message_part;
  };
  for (const Case& c : {
           Case{"", "empty memory size"},
           Case{"   ", "empty memory size"},
           Case{"-1G", "is negative"},
           Case{"GiB", "does not start with a number"},
           Case{".", "does not start with a number"},
           Case{"2GiBs", "unknown unit 'GiBs'"},
           Case{"2 Gigs", "unknown unit 'Gigs'"},
           Case{"1.5", "fraction of a byte"},
           Case{"1e9", "unknown unit 'e9'"},
           Case{"18446744073709551616", "larger than 2^64-1"},
           Case{"16EiB", "unknown unit"},
           Case{"17179869184G", "larger than 2^64-1"},
       }) {
    auto r = parse_bytes(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(r.status().message().find(c.message_part), std::string_view::npos)
        << c.text << " -> " << r.status().message();
  }
  // The message names the input and shows the accepted forms.
  EXPECT_NE(parse_bytes("2GiBs").status().message().find("'2GiBs'"), std::string_view::npos);
  EXPECT_NE(parse_bytes("x").status().message().find("such as 2GiB"), std::string_view::npos);
}

TEST(FormatBytesTest, UsesBinaryUnitsWithTwoDecimals) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.00 KiB");
  EXPECT_EQ(format_bytes(3ull << 29), "1.50 GiB");
  EXPECT_EQ(format_bytes(324ull << 20), "324.00 MiB");
  EXPECT_EQ(format_bytes((1ull << 20) - 1), "1.00 MiB");  // not "1024.00 KiB"
  EXPECT_EQ(format_bytes(UINT64_MAX), "16.00 EiB");
}

TEST(FormatBytesTest, RoundTripsThroughParse) {
  for (uint64_t n : {1ull << 10, 5ull << 20, 3ull << 30, 7ull << 40}) {
    auto r = parse_bytes(format_bytes(n));
    ASSERT_TRUE(r.ok()) << format_bytes(n);
    EXPECT_EQ(*r, n);
  }
}

TEST(FormatCountTest, GroupsThousands) {
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(8192), "8,192");
  EXPECT_EQ(format_count(1234567), "1,234,567");
}

}  // namespace
}  // namespace keel::memory
