#include "keel/core/status.h"

#include <gtest/gtest.h>

#include "keel/core/result.h"

namespace keel {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return InvalidArgumentError("value {} must be positive", v);
  return v;
}

Result<int> doubled(int v) {
  KEEL_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Status check_both(int a, int b) {
  KEEL_RETURN_IF_ERROR(parse_positive(a));
  KEEL_RETURN_IF_ERROR(parse_positive(b));
  return OkStatus();
}

TEST(StatusTest, OkIsDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = ResourceExhaustedError("need {} bytes, have {}", 10, 5);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "need 10 bytes, have 5");
  EXPECT_EQ(s.to_string(), "RESOURCE_EXHAUSTED: need 10 bytes, have 5");
  EXPECT_EQ(s.with_context("kv pool").message(), "kv pool: need 10 bytes, have 5");
}

TEST(StatusTest, AllCodesHaveNames) {
  for (StatusCode c : {StatusCode::kCancelled, StatusCode::kInvalidArgument,
                       StatusCode::kDeadlineExceeded, StatusCode::kNotFound,
                       StatusCode::kResourceExhausted, StatusCode::kFailedPrecondition,
                       StatusCode::kOutOfRange, StatusCode::kUnimplemented, StatusCode::kInternal,
                       StatusCode::kUnavailable, StatusCode::kDataLoss}) {
    EXPECT_NE(status_code_name(c), "UNKNOWN");
    EXPECT_EQ(Status(c, "x").code(), c);
  }
}

TEST(ResultTest, PropagatesErrors) {
  EXPECT_EQ(*doubled(4), 8);
  Result<int> r = doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "value -1 must be positive");
  EXPECT_TRUE(check_both(1, 2).ok());
  EXPECT_EQ(check_both(1, 0).message(), "value 0 must be positive");
}

TEST(ResultDeathTest, ValueOfErrorIsABug) {
  Result<int> r = InternalError("boom");
  EXPECT_DEATH((void)r.value(), "boom");
}

}  // namespace
}  // namespace keel
