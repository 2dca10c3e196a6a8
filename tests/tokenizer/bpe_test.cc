// Unit tests of the BPE model (models/bpe.h) and its tokenizer.json factory.
// Expected ids were checked against HF tokenizers 0.22 (via Node) on the
// same vocab/merges.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <thread>

#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/models/bpe.h"
#include "keel/tokenizer/models/bpe_merge.h"
#include "keel/tokenizer/pieces.h"

namespace keel::tokenizer {
namespace {

using Ids = std::vector<uint32_t>;

Result<std::unique_ptr<Model>> parse_model(const std::string& text, bool raw = false) {
  StageOptions options;
  options.byte_level_raw = raw;
  return make_model(nlohmann::json::parse(text), "$.model", options);
}

std::unique_ptr<Model> model_from(const std::string& text, bool raw = false) {
  auto m = parse_model(text, raw);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : nullptr;
}

Ids ids_of(const Model& m, std::string_view piece) {
  Ids ids;
  const Status st = m.tokenize(piece, ids);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return ids;
}

constexpr const char* kAbc = R"({"type":"BPE","vocab":{"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5},
  "merges":["b c","a b"]})";

TEST(BpeTest, AppliesMergesByRank) {
  auto m = model_from(kAbc);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "ab"), (Ids{3}));
  EXPECT_EQ(ids_of(*m, "cab"), (Ids{2, 3}));
  EXPECT_EQ(ids_of(*m, "bcab"), (Ids{4, 3}));
  EXPECT_EQ(ids_of(*m, ""), (Ids{}));
}

TEST(BpeTest, WholePieceInVocabButNotReachableIsMerged) {
  // "abc" is in the vocab, but "b c" merges first and nothing merges a+bc:
  // HF gives [a, bc]; the whole-piece shortcut must not fire.
  auto m = model_from(kAbc);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "abc"), (Ids{0, 4}));
  EXPECT_EQ(ids_of(*m, "abc"), (Ids{0, 4}));  // and again, through the cache
}

TEST(BpeTest, IgnoreMergesLooksUpWholePieceFirst) {
  auto m = model_from(R"({"type":"BPE","ignore_merges":true,
    "vocab":{"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5},"merges":["b c","a b"]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "abc"), (Ids{5}));
  EXPECT_EQ(ids_of(*m, "cabc"), (Ids{2, 0, 4}));  // not whole: merges as usual
}

TEST(BpeTest, PairFormMergesEqualStringForm) {
  auto m = model_from(R"({"type":"BPE","vocab":{"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5},
    "merges":[["b","c"],["a","b"]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "abc"), (Ids{0, 4}));
  EXPECT_EQ(ids_of(*m, "cab"), (Ids{2, 3}));
}

TEST(BpeTest, PairFormAllowsSpacesInTokens) {
  auto m = model_from(R"({"type":"BPE","vocab":{"a":0,"b c":1,"ab c":2},
    "merges":[["a","b c"]]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->token_to_id("ab c"), std::optional<uint32_t>(2));
  // Initial symbols are characters: "b", " ", "c" are unknown and dropped.
  EXPECT_EQ(ids_of(*m, "ab c"), (Ids{0}));
}

TEST(BpeTest, EqualRanksMergeLeftmostFirst) {
  BpeConfig config;
  config.vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}};
  config.merges = {{"a", "b", 5}, {"b", "c", 5}};
  auto m = make_bpe(config);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(ids_of(**m, "abc"), (Ids{3, 2}));

  config.merges = {{"a", "b", 6}, {"b", "c", 5}};
  auto m2 = make_bpe(config);
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(ids_of(**m2, "abc"), (Ids{0, 4}));
}

TEST(BpeTest, RepeatedSymbolsMergeLeftToRight) {
  auto m = model_from(R"({"type":"BPE","vocab":{"a":0,"aa":1},"merges":["a a"]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "aaa"), (Ids{1, 0}));
  EXPECT_EQ(ids_of(*m, "aaaa"), (Ids{1, 1}));
}

TEST(BpeTest, ByteFallbackThenUnk) {
  auto m = model_from(R"({"type":"BPE","unk_token":"<unk>","byte_fallback":true,
    "vocab":{"<unk>":0,"a":1,"<0xC3>":2,"<0xA9>":3},"merges":[]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "a\xC3\xA9"), (Ids{1, 2, 3}));      // "aé"
  EXPECT_EQ(ids_of(*m, "a\xE2\x82\xAC"), (Ids{1, 0}));     // "a€": no byte tokens → unk
}

TEST(BpeTest, UnknownsAreFusedOnlyWithFuseUnk) {
  auto plain = model_from(R"({"type":"BPE","unk_token":"<unk>",
    "vocab":{"<unk>":0,"a":1},"merges":[]})");
  auto fused = model_from(R"({"type":"BPE","unk_token":"<unk>","fuse_unk":true,
    "vocab":{"<unk>":0,"a":1},"merges":[]})");
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(ids_of(*plain, "xya"), (Ids{0, 0, 1}));
  EXPECT_EQ(ids_of(*fused, "xya"), (Ids{0, 1}));
  EXPECT_EQ(ids_of(*fused, "xyaz"), (Ids{0, 1, 0}));
}

TEST(BpeTest, UnknownsAreDroppedWithoutUnkToken) {
  auto m = model_from(R"({"type":"BPE","vocab":{"a":0},"merges":[]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "xax"), (Ids{0}));
}

TEST(BpeTest, UnkTokenMissingFromVocabFailsOnlyWhenNeeded) {
  auto m = model_from(R"({"type":"BPE","unk_token":"<missing>","vocab":{"a":0},"merges":[]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "a"), (Ids{0}));
  Ids ids;
  const Status st = m->tokenize("ax", ids);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("<missing>"), std::string_view::npos) << st.message();
}

TEST(BpeTest, ContinuingSubwordPrefix) {
  auto m = model_from(R"({"type":"BPE","continuing_subword_prefix":"##",
    "vocab":{"a":0,"##b":1,"##c":2,"ab":3,"b":4},"merges":["a ##b"]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "ab"), (Ids{3}));
  EXPECT_EQ(ids_of(*m, "abc"), (Ids{3, 2}));
  EXPECT_EQ(ids_of(*m, "b"), (Ids{4}));
}

TEST(BpeTest, EndOfWordSuffix) {
  auto m = model_from(R"({"type":"BPE","end_of_word_suffix":"</w>",
    "vocab":{"a":0,"b</w>":1,"ab</w>":2,"b":3},"merges":["a b</w>"]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "ab"), (Ids{2}));
  EXPECT_EQ(ids_of(*m, "b"), (Ids{1}));
}

// GPT-2 alphabet: ' ' is "Ġ"; "中" is E4 B8 AD = "ä" "¸" "Ń".
constexpr const char* kByteLevel = R"({"type":"BPE","ignore_merges":false,
  "vocab":{"Ġ":0,"h":1,"i":2,"Ġh":3,"Ġhi":4,"ä":5,"¸":6,"Ń":7,"ä¸":8,"ä¸Ń":9,"中":10},
  "merges":["Ġ h","Ġh i","ä ¸","ä¸ Ń"]})";

TEST(BpeTest, ByteLevelRawModeTokenizesRawBytes) {
  auto m = model_from(kByteLevel, /*raw=*/true);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, " hi"), (Ids{4}));
  EXPECT_EQ(ids_of(*m, "\xE4\xB8\xAD"), (Ids{9}));
  EXPECT_EQ(ids_of(*m, "hi "), (Ids{1, 2, 0}));
  // Lookups keep the tokenizer.json strings.
  EXPECT_EQ(m->id_to_token(4), std::optional<std::string_view>("Ġhi"));
  EXPECT_EQ(m->token_to_id("Ġhi"), std::optional<uint32_t>(4));
  EXPECT_EQ(m->token_to_id("中"), std::optional<uint32_t>(10));
  EXPECT_EQ(m->vocab_size(), 11u);
}

TEST(BpeTest, ByteLevelAlphabetModeTokenizesMappedText) {
  auto m = model_from(kByteLevel, /*raw=*/false);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "Ġhi"), (Ids{4}));
  EXPECT_EQ(ids_of(*m, "中"), (Ids{10}));
}

TEST(BpeTest, DropoutIsUnimplementedUnlessZero) {
  auto bad = parse_model(R"({"type":"BPE","dropout":0.1,"vocab":{"a":0},"merges":[]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(bad.status().message().find("$.model.dropout"), std::string_view::npos);
  EXPECT_TRUE(parse_model(R"({"type":"BPE","dropout":0.0,"vocab":{"a":0},"merges":[]})").ok());
  EXPECT_TRUE(parse_model(R"({"type":"BPE","dropout":null,"vocab":{"a":0},"merges":[]})").ok());
}

void expect_invalid(const std::string& text, const std::string& needle) {
  auto m = parse_model(text);
  ASSERT_FALSE(m.ok()) << text;
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << m.status().to_string();
  EXPECT_NE(m.status().message().find(needle), std::string_view::npos)
      << "message: " << m.status().message() << "\nexpected to contain: " << needle;
}

TEST(BpeTest, MalformedMergesNameTheJsonPath) {
  expect_invalid(R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b","a b c"]})",
                 "$.model.merges[1]: expected \"a b\"");
  expect_invalid(R"({"type":"BPE","vocab":{"a":0},"merges":[7]})", "$.model.merges[0]: expected");
  expect_invalid(R"({"type":"BPE","vocab":{"a":0},"merges":[["a"]]})",
                 "$.model.merges[0]: expected");
  expect_invalid(R"({"type":"BPE","vocab":{"a":0},"merges":"a b"})", "$.model.merges");
  expect_invalid(R"({"type":"BPE","vocab":{"a":0}})", "'merges'");
}

TEST(BpeTest, MergeTokensMustBeInVocab) {
  expect_invalid(R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b","a x"]})",
                 "$.model.merges[1]: token \"x\" is not in the vocab");
  expect_invalid(R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]})",
                 "$.model.merges[0]: merged token \"ab\" is not in the vocab");
  // A "#version" header is skipped, but errors still name the JSON index.
  expect_invalid(R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":["#version: 0.2","a q"]})",
                 "$.model.merges[1]: token \"q\"");
}

TEST(BpeTest, VersionHeaderIsSkipped) {
  auto m = model_from(R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},
    "merges":["#version: 0.2","a b"]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(ids_of(*m, "ab"), (Ids{2}));
}

TEST(BpeTest, MalformedVocabNamesTheEntry) {
  expect_invalid(R"({"type":"BPE","vocab":{"a":"x"},"merges":[]})", "$.model.vocab[\"a\"]");
  expect_invalid(R"({"type":"BPE","vocab":{"a":-1},"merges":[]})", "$.model.vocab[\"a\"]");
  expect_invalid(R"({"type":"BPE","vocab":[],"merges":[]})", "$.model.vocab");
}

TEST(BpeTest, CppApiRejectsDuplicatesAndUnknownMergeTokens) {
  BpeConfig dup;
  dup.vocab = {{"a", 0}, {"a", 1}};
  auto m = make_bpe(dup);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("duplicate token \"a\""), std::string_view::npos);

  BpeConfig bad_merge;
  bad_merge.vocab = {{"a", 0}};
  bad_merge.merges = {{"a", "z", 0}};
  auto m2 = make_bpe(bad_merge);
  ASSERT_FALSE(m2.ok());
  EXPECT_NE(m2.status().message().find("merges[0]: token \"z\""), std::string_view::npos)
      << m2.status().message();
}

TEST(BpeTest, SparseIdsAndLookups) {
  auto m = model_from(R"({"type":"BPE","vocab":{"a":0,"b":7},"merges":[]})");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->id_to_token(7), std::optional<std::string_view>("b"));
  EXPECT_EQ(m->id_to_token(3), std::nullopt);
  EXPECT_EQ(m->id_to_token(100), std::nullopt);
  EXPECT_EQ(m->token_to_id("zz"), std::nullopt);
  EXPECT_EQ(m->vocab_size(), 2u);
}

// The scan, the heap and the batched (interleaved) merge loops must agree
// on every input, including repeated ranks; words longer than
// kMergeScanMaxSymbols use the heap and are not batched.
TEST(BpeMergeTest, ScanHeapAndBatchAgree) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 40; ++trial) {
    models_internal::PairMap merges;
    const uint32_t alphabet = 4;
    uint32_t next_id = alphabet;
    std::vector<uint32_t> ids(alphabet);
    for (uint32_t i = 0; i < alphabet; ++i) ids[i] = i;
    for (int k = 0; k < 60; ++k) {
      const uint32_t l = ids[rng() % ids.size()], r = ids[rng() % ids.size()];
      const uint32_t rank = static_cast<uint32_t>(rng() % 20);  // many ties
      merges.insert(l, r, {rank, next_id});
      ids.push_back(next_id++);
    }
    models_internal::MergeBatch batch;
    std::vector<std::vector<uint32_t>> batched_expected;
    auto run_batch = [&] {
      batch.run(merges);
      ASSERT_EQ(batch.size(), batched_expected.size());
      for (size_t k = 0; k < batch.size(); ++k) {
        const std::vector<uint32_t> got(batch.result(k), batch.result(k) + batch.result_size(k));
        ASSERT_EQ(got, batched_expected[k]) << "trial " << trial << " batched word " << k;
      }
      batch.clear();
      batched_expected.clear();
    };
    for (int w = 0; w < 30; ++w) {
      std::vector<uint32_t> word(1 + rng() % 150);
      for (auto& s : word) s = static_cast<uint32_t>(rng() % alphabet);
      std::vector<uint32_t> a = word, b = word;
      models_internal::MergeScratch scratch;
      models_internal::apply_merges_scan(merges, a, scratch);
      models_internal::apply_merges_heap(merges, b, scratch);
      ASSERT_EQ(a, b) << "trial " << trial << " word " << w;
      if (word.size() >= 2 && word.size() <= models_internal::kMergeScanMaxSymbols) {
        batch.add(merges, word);
        batched_expected.push_back(a);
        if (batch.full()) run_batch();
      }
    }
    if (!batch.empty()) run_batch();
  }
}

// tokenize_pieces defers pieces that need merging, merges them
// MergeBatch::kMaxWords at a time and splices their ids back in place: the
// result must equal tokenizing each piece alone, for lists with many such
// pieces (several batches), repeats (cache hits after the first batch),
// whole-vocabulary pieces, empty pieces and unmergeable letters in between.
TEST(BpeTest, BatchedPiecesEqualPiecesAlone) {
  auto m = model_from(kAbc);
  ASSERT_NE(m, nullptr);
  std::mt19937 rng(99);
  const std::string letters = "abcd";  // 'd' is unknown: dropped (no unk_token)
  for (int trial = 0; trial < 50; ++trial) {
    PieceList pieces;
    Ids expected;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) {
      std::string piece(rng() % 9, 'a');
      for (char& c : piece) c = letters[rng() % letters.size()];
      if (rng() % 5 == 0) piece = "ab";  // a whole-vocabulary piece
      pieces.add_copy(piece, 0, 0);
      const Ids alone = ids_of(*m, piece);
      expected.insert(expected.end(), alone.begin(), alone.end());
    }
    Ids got = {42};  // tokenize_pieces appends
    ASSERT_TRUE(m->tokenize_pieces(pieces, got).ok());
    expected.insert(expected.begin(), 42);
    ASSERT_EQ(got, expected) << "trial " << trial;
  }
}

TEST(BpeTest, ConcurrentTokenizeIsConsistent) {
  auto m = model_from(kAbc);
  ASSERT_NE(m, nullptr);
  const std::vector<std::string> pieces = {"abc", "cab", "bcab", "ab", "ccc", "abcabc"};
  std::vector<Ids> expected;
  for (const auto& p : pieces) expected.push_back(ids_of(*m, p));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const size_t k = static_cast<size_t>(i) % pieces.size();
        Ids ids;
        if (!m->tokenize(pieces[k], ids).ok() || ids != expected[k]) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace keel::tokenizer
