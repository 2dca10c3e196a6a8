// resolve_lengths(): the generation-length rules at submit.
#include "keel/engine/length_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace keel::engine {
namespace {

EngineRequest request(int64_t prompt, std::optional<int64_t> max_new, int64_t min_new = 0,
                      bool strict = false) {
  EngineRequest r;
  r.prompt_ids.assign(static_cast<size_t>(prompt), 7);
  r.max_new_tokens = max_new;
  r.stop.min_new_tokens = min_new;
  r.strict_length = strict;
  return r;
}

constexpr LengthLimits kLimits{/*vocab=*/100, /*context=*/256, /*pool=*/512};

bool contains(std::string_view haystack, const std::string& needle) {
  return haystack.find(needle) != std::string_view::npos;
}

TEST(LengthRulesTest, DefaultIsTheRestOfTheWindow) {
  auto r = resolve_lengths(request(56, std::nullopt), kLimits);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->max_new_tokens, 200);
  EXPECT_EQ(r->limit_reason, KeelReason::kContextWindow);
  EXPECT_TRUE(r->adjustments.empty());
}

TEST(LengthRulesTest, TheRequestsOwnLimitIsKept) {
  auto r = resolve_lengths(request(56, 20, 5), kLimits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->max_new_tokens, 20);
  EXPECT_EQ(r->min_new_tokens, 5);
  EXPECT_EQ(r->limit_reason, KeelReason::kNone);
}

TEST(LengthRulesTest, BeyondTheWindowIsClampedOrRefusedWhenStrict) {
  auto r = resolve_lengths(request(56, 9000), kLimits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->max_new_tokens, 200);
  EXPECT_EQ(r->limit_reason, KeelReason::kContextWindow);
  ASSERT_EQ(r->adjustments.size(), 1u);
  EXPECT_EQ(r->adjustments[0],
            "max_new_tokens lowered from 9000 to 200: prompt 56 tokens, context window 256");
  auto strict = resolve_lengths(request(56, 9000, 0, true), kLimits);
  EXPECT_EQ(strict.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(strict.status().message(), "at most 200")) << strict.status().to_string();
}

TEST(LengthRulesTest, ThePoolLimitsWhenSmallerThanTheWindow) {
  const LengthLimits small_pool{100, 256, 64};
  auto r = resolve_lengths(request(16, std::nullopt), small_pool);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->max_new_tokens, 48);
  EXPECT_EQ(r->limit_reason, KeelReason::kKvPool);
  ASSERT_EQ(r->adjustments.size(), 1u);
  EXPECT_TRUE(contains(r->adjustments[0], "KV pool 64 tokens"));
  EXPECT_EQ(resolve_lengths(request(16, 100, 0, true), small_pool).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(LengthRulesTest, NeverFitsIsRefusedWithBothNumbers) {
  auto window = resolve_lengths(request(200, 100, 60), kLimits);
  EXPECT_EQ(window.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(window.status().message(), "260 tokens")) << window.status().to_string();
  EXPECT_TRUE(contains(window.status().message(), "context window is 256")) << window.status().to_string();

  const LengthLimits small_pool{100, 256, 64};
  auto pool = resolve_lengths(request(40, 100, 30), small_pool);
  EXPECT_EQ(pool.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(pool.status().message(), "70 tokens")) << pool.status().to_string();
  EXPECT_TRUE(contains(pool.status().message(), "KV pool holds 64 tokens")) << pool.status().to_string();

  auto full = resolve_lengths(request(256, std::nullopt), kLimits);  // no room for one token
  EXPECT_EQ(full.status().code(), StatusCode::kInvalidArgument);
}

TEST(LengthRulesTest, BadValues) {
  EXPECT_EQ(resolve_lengths(request(0, 5), kLimits).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(resolve_lengths(request(5, 0), kLimits).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(resolve_lengths(request(5, 3, 4), kLimits).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(resolve_lengths(request(5, 3, -1), kLimits).status().code(),
            StatusCode::kInvalidArgument);
  EngineRequest bad_id = request(5, 3);
  bad_id.prompt_ids[2] = 100;
  auto r = resolve_lengths(bad_id, kLimits);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), "index 2")) << r.status().to_string();
}

}  // namespace
}  // namespace keel::engine
