// Thread safety and fork safety of Tokenizer (run under TSan in CI).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "common/fork_util.h"
#include "common/testdata.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::tokenizer {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> sample_texts(size_t n) {
  std::vector<std::string> texts;
  const char* parts[] = {"Hello world", " it's 12345 ", "日本語のテキスト", "emoji 👨‍👩‍👧 ok",
                         "  \n\n\t code(x) { return y; }", "Ünïcödé naïve café", "<|im_start|>"};
  for (size_t i = 0; i < n; ++i) {
    std::string t;
    for (size_t k = 0; k <= i % 7; ++k) t += parts[(i + k) % 7];
    texts.push_back(t + std::to_string(i));
  }
  return texts;
}

std::vector<std::vector<uint32_t>> encode_serially(const Tokenizer& tok,
                                                   const std::vector<std::string>& texts) {
  std::vector<std::vector<uint32_t>> out;
  for (const auto& t : texts) out.push_back(*tok.encode(t, true));
  return out;
}

TEST(TokenizerConcurrencyTest, ManyThreadsGetIdenticalResults) {
  KEEL_REQUIRE_TOKENIZER(tok, "qwen3");
  const auto texts = sample_texts(300);
  const auto expected = encode_serially(tok, texts);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < texts.size(); ++i) {
        size_t k = (i * 7 + t) % texts.size();
        auto r = tok.encode(texts[k], true);
        if (!r.ok() || *r != expected[k]) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(TokenizerConcurrencyTest, EncodeBatchMatchesSerial) {
  KEEL_REQUIRE_TOKENIZER(tok, "llama3");
  const auto texts = sample_texts(1000);
  auto batch = tok.encode_batch(texts, true);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  EXPECT_EQ(*batch, encode_serially(tok, texts));
}

TEST(TokenizerConcurrencyTest, EncodeBatchReportsFailingIndex) {
  KEEL_REQUIRE_TOKENIZER(tok, "llama3");
  std::vector<std::string> texts = {"fine", "also fine", "bad \xFF byte"};
  auto r = tok.encode_batch(texts, true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("text 2"), std::string_view::npos) << r.status().message();
}

// The child encodes a batch in parallel and checks the ids: 0 if they are
// right, 1 if encode_batch failed (its status on stderr), 2 if ids differ.
int child_batch_ok(const Tokenizer& tok, const std::vector<std::string>& texts,
                   const std::vector<std::vector<uint32_t>>& expected) {
  auto r = tok.encode_batch(texts, true, Deadline::after(20s));
  if (!r.ok()) {
    std::fprintf(stderr, "child: %s\n", r.status().to_string().c_str());
    return 1;
  }
  return *r == expected ? 0 : 2;
}

TEST(TokenizerForkTest, ForkAfterUse) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  KEEL_REQUIRE_TOKENIZER(tok, "llama3");
  const auto texts = sample_texts(200);
  const auto expected = encode_serially(tok, texts);
  ASSERT_TRUE(tok.encode_batch(texts, true).ok());
  EXPECT_EQ(testing::run_in_child([&] { return child_batch_ok(tok, texts, expected); }, 30s), 0);
}

TEST(TokenizerForkTest, ForkWhileOtherThreadsEncode) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  KEEL_SKIP_FORK_WHILE_ALLOCATING_UNDER_TSAN();
  KEEL_REQUIRE_TOKENIZER(tok, "qwen3");
  const auto texts = sample_texts(200);
  const auto expected = encode_serially(tok, texts);
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 2; ++t) {
    busy.emplace_back([&] {
      while (!stop.load()) (void)tok.encode_batch(texts, true);
    });
  }
  std::this_thread::sleep_for(50ms);
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(testing::run_in_child([&] { return child_batch_ok(tok, texts, expected); }, 30s), 0)
        << "fork " << k;
  }
  stop.store(true);
  for (auto& th : busy) th.join();
}

TEST(TokenizerForkTest, TwoHundredForks) {
  KEEL_SKIP_FORK_TEST_UNDER_ASAN();
  KEEL_REQUIRE_TOKENIZER(tok, "llama3");
  const auto texts = sample_texts(32);
  const auto expected = encode_serially(tok, texts);
  ASSERT_TRUE(tok.encode_batch(texts, true).ok());
  int failures = 0;
  for (int k = 0; k < 200; ++k) {
    failures += testing::run_in_child([&] { return child_batch_ok(tok, texts, expected); }, 20s) != 0;
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace keel::tokenizer
