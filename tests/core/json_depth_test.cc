#include "keel/core/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace keel {
namespace {

TEST(JsonDepthTest, CountsArraysAndObjectsNotStrings) {
  EXPECT_EQ(json_too_deep_at("[[{}]]", 3), std::nullopt);
  EXPECT_EQ(json_too_deep_at("[[{}]]", 2), 2u);
  // Brackets inside strings (escaped quotes included) are text.
  EXPECT_EQ(json_too_deep_at(R"(["[[[\"[[[", {"k": "{{{"}])", 2), std::nullopt);
  // Siblings do not add up: depth returns after each close.
  EXPECT_EQ(json_too_deep_at("[[],[],[[]]]", 3), std::nullopt);
  EXPECT_EQ(json_too_deep_at("[[],[],[[]]]", 2), 8u);
  // Stray closers do not make the count negative.
  EXPECT_EQ(json_too_deep_at("]]]][[", 1), 5u);
}

TEST(JsonDepthTest, StatusNamesTheSourceLimitAndByte) {
  EXPECT_TRUE(check_json_depth("{\"a\": [1, 2]}", "x.json").ok());
  const std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  const Status s = check_json_depth(deep, "x.json");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "x.json nests arrays/objects more than 256 levels deep (byte 256)");
  EXPECT_TRUE(check_json_depth(std::string(kMaxJsonDepth, '['), "x.json").ok());
}

}  // namespace
}  // namespace keel
