#include "keel/model/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace keel::model {
namespace {

namespace fs = std::filesystem;

// The bytes of a safetensors file with a hand-written header.
std::string raw_file(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  out += header;
  out.append(data_bytes, '\x01');
  return out;
}

std::span<const std::byte> as_bytes(const std::vector<float>& v) {
  return std::as_bytes(std::span<const float>(v));
}

void expect_error(const Result<SafetensorsFile>& r, StatusCode code,
                  std::initializer_list<std::string_view> parts) {
  ASSERT_FALSE(r.ok()) << "expected an error containing " << *parts.begin();
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  for (std::string_view p : parts) {
    EXPECT_NE(r.status().message().find(p), std::string_view::npos)
        << "'" << p << "' not in: " << r.status().message();
  }
}

TEST(SafetensorsTest, WriteThenReadRoundTrips) {
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b = {0x3c00, 0x4000, 0x4200};  // f16 1, 2, 3
  std::vector<int8_t> c = {-1};
  std::vector<TensorToWrite> tensors = {
      {"layer.weight", DType::kF32, {2, 3}, as_bytes(a)},
      {"odd", DType::kI8, {1}, std::as_bytes(std::span<const int8_t>(c))},
      {"half", DType::kF16, {3}, std::as_bytes(std::span<const uint16_t>(b))},
      {"empty", DType::kBF16, {0, 4}, {}},
  };
  auto bytes = serialize_safetensors(tensors, {{"format", "pt"}});
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto file = SafetensorsFile::parse(*bytes, "mem.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(file->num_tensors(), 4u);
  EXPECT_EQ(file->tensor_names(),
            (std::vector<std::string_view>{"empty", "half", "layer.weight", "odd"}));
  EXPECT_EQ(file->metadata().at("format"), "pt");

  auto w = file->tensor("layer.weight");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->name, "layer.weight");
  EXPECT_EQ(w->dtype, DType::kF32);
  EXPECT_EQ(std::vector<int64_t>(w->shape.begin(), w->shape.end()), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->num_elements(), 6);
  ASSERT_EQ(w->bytes, 24u);
  EXPECT_EQ(std::memcmp(w->data, a.data(), 24), 0);
  auto h = file->tensor("half");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(std::memcmp(h->data, b.data(), 6), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(h->data) % 2, 0u);
  EXPECT_EQ(file->tensor("empty")->bytes, 0u);
  EXPECT_EQ(file->tensor("empty")->num_elements(), 0);

  auto missing = file->tensor("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "mem.safetensors has no tensor \"nope\" (4 tensors)");
}

TEST(SafetensorsTest, WriterAlignsDataToEightBytes) {
  std::vector<float> a = {1};
  std::vector<double> d = {2.5};
  std::vector<TensorToWrite> tensors = {{"a", DType::kF32, {1}, as_bytes(a)},
                                        {"d", DType::kF64, {1}, std::as_bytes(std::span<const double>(d))}};
  auto bytes = serialize_safetensors(tensors);
  ASSERT_TRUE(bytes.ok());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes->data(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);
  auto file = SafetensorsFile::parse(*bytes);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  double got = 0;
  std::memcpy(&got, file->tensor("d")->data, 8);
  EXPECT_EQ(got, 2.5);
}

TEST(SafetensorsTest, WriterRejectsBadTensors) {
  std::vector<float> a = {1, 2, 3};
  auto check = [](std::vector<TensorToWrite> t, std::string_view part) {
    auto r = serialize_safetensors(t);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(part), std::string_view::npos) << r.status().message();
  };
  check({{"x", DType::kF32, {2, 2}, as_bytes(a)}},
        "tensor \"x\": 4 elements of F32 need 16 bytes but 12 were given");
  check({{"x", DType::kF32, {3}, as_bytes(a)}, {"x", DType::kF32, {3}, as_bytes(a)}},
        "\"x\" is listed twice");
  check({{"__metadata__", DType::kF32, {3}, as_bytes(a)}}, "cannot be named \"__metadata__\"");
  check({{"x", DType::kF32, {-3}, as_bytes(a)}}, "negative dimension -3");
}

TEST(SafetensorsTest, BadFilesAreDataLossNamingFileAndTensor) {
  const std::string f32 = R"("dtype":"F32","shape":[2])";
  expect_error(SafetensorsFile::parse("", "a.st"), StatusCode::kDataLoss,
               {"a.st: 0 bytes is shorter than the 8-byte header length"});
  expect_error(SafetensorsFile::parse("1234567", "a.st"), StatusCode::kDataLoss,
               {"7 bytes is shorter"});
  std::string past_end = raw_file("{}", 0);
  past_end[0] = 100;
  expect_error(SafetensorsFile::parse(past_end, "a.st"), StatusCode::kDataLoss,
               {"header length 100 runs past the end of the 10-byte file"});
  expect_error(SafetensorsFile::parse(raw_file("{not json", 0), "a.st"), StatusCode::kDataLoss,
               {"a.st: header is not JSON"});
  expect_error(SafetensorsFile::parse(raw_file("[1,2]", 0), "a.st"), StatusCode::kDataLoss,
               {"header is JSON but not an object"});
  expect_error(SafetensorsFile::parse(raw_file(std::string(300, '[') + std::string(300, ']'), 0), "a.st"),
               StatusCode::kDataLoss, {"a.st: header nests arrays/objects more than 256 levels deep (byte 256)"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8), "a.st"),
               StatusCode::kDataLoss, {"a.st: tensor \"w\": unknown dtype \"F33\""});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{)" + f32 + R"(,"data_offsets":[0,12]}})", 12), "a.st"),
               StatusCode::kDataLoss,
               {"tensor \"w\": shape [2] of F32 needs 8 bytes but data_offsets [0, 12] hold 12"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{)" + f32 + R"(,"data_offsets":[8,16]}})", 8), "a.st"),
               StatusCode::kDataLoss,
               {"tensor \"w\": data_offsets [8, 16] run past the end of the 8-byte data section"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{)" + f32 + R"(,"data_offsets":[8,0]}})", 8), "a.st"),
               StatusCode::kDataLoss, {"end before they begin"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"a":{)" + f32 + R"(,"data_offsets":[0,8]},"b":{)" + f32 +
                                                   R"(,"data_offsets":[4,12]}})", 12), "a.st"),
               StatusCode::kDataLoss,
               {"a.st: tensor \"b\" [4, 12] overlaps tensor \"a\" [0, 8]"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "a.st"),
               StatusCode::kDataLoss, {"tensor \"w\": shape entry 0 is not a non-negative integer"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{"dtype":"F32","shape":[[[2]]],"data_offsets":[0,8]}})", 8), "a.st"),
               StatusCode::kDataLoss, {"shape entry 0"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{"dtype":"F32","shape":[2]}})", 8), "a.st"),
               StatusCode::kDataLoss, {"\"data_offsets\" is not an array [begin, end]"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":7})", 0), "a.st"), StatusCode::kDataLoss,
               {"tensor \"w\": entry is not a JSON object"});
  expect_error(SafetensorsFile::parse(raw_file(R"({"__metadata__":{"k":1}})", 0), "a.st"),
               StatusCode::kDataLoss, {"\"__metadata__\" value for \"k\" is not a string"});
  // Element count overflow is caught, not wrapped.
  expect_error(SafetensorsFile::parse(raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0), "a.st"),
               StatusCode::kDataLoss, {"needs more than 2^64 bytes"});
}

TEST(SafetensorsTest, HolesAndEmptyTensorsAreAllowed) {
  const std::string header =
      R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
      R"("z":{"dtype":"U8","shape":[0],"data_offsets":[1,1]},)"
      R"("b":{"dtype":"BOOL","shape":[1],"data_offsets":[4,5]}})";
  auto file = SafetensorsFile::parse(raw_file(header, 8));
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_EQ(file->tensor("b")->dtype, DType::kBool);
}

// Found with fuzz/safetensors_fuzz (corpus crash-shape-int64-overflow-zero-dim):
// a zero dimension makes any other dimensions valid (their product fits
// uint64, as the reference parser checks), and num_elements() multiplied them
// in int64 first: signed overflow.
TEST(SafetensorsTest, ZeroDimensionWithHugeOthersHasNoElements) {
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[9223372036854775807,2,0],"data_offsets":[0,0]},)"
      R"("b":{"dtype":"U8","shape":[3037000500,0,3037000500],"data_offsets":[0,0]}})";
  auto file = SafetensorsFile::parse(raw_file(header, 0));
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  for (const char* name : {"a", "b"}) {
    auto t = file->tensor(name);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->bytes, 0u);
    EXPECT_EQ(t->num_elements(), 0) << name;
  }
}

class SafetensorsFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("keel_st_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_shard(const std::string& name, const std::vector<std::string>& tensor_names) {
    std::vector<TensorToWrite> t;
    for (const auto& n : tensor_names) t.push_back({n, DType::kF32, {2}, as_bytes(values_)});
    Status s = write_safetensors((dir_ / name).string(), t, {{"format", "pt"}});
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  void write_index(const std::string& weight_map_json) {
    std::ofstream(dir_ / "model.safetensors.index.json")
        << R"({"metadata":{"total_size":24},"weight_map":)" << weight_map_json << "}";
  }

  fs::path dir_;
  std::vector<float> values_ = {0.5f, -1.5f};
};

TEST_F(SafetensorsFolderTest, OpensSingleFileAndRejectsMissingFiles) {
  auto none = SafetensorsModel::open(dir_.string());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("has neither model.safetensors nor "
                                         "model.safetensors.index.json"),
            std::string_view::npos);
  EXPECT_EQ(SafetensorsModel::open((dir_ / "absent").string()).status().code(),
            StatusCode::kNotFound);
  auto folder_as_file = SafetensorsFile::open(dir_.string());
  EXPECT_EQ(folder_as_file.status().code(), StatusCode::kInvalidArgument);

  write_shard("model.safetensors", {"a", "b"});
  auto m = SafetensorsModel::open(dir_.string());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->num_tensors(), 2u);
  EXPECT_EQ(m->total_tensor_bytes(), 16u);
  auto a = m->tensor("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(static_cast<const float*>(a->data)[1], -1.5f);
  // A file path works too.
  EXPECT_TRUE(SafetensorsModel::open((dir_ / "model.safetensors").string()).ok());
  EXPECT_EQ(m->tensor("c").status().code(), StatusCode::kNotFound);
}

TEST_F(SafetensorsFolderTest, OpensShardsThroughTheIndex) {
  write_shard("model-00001-of-00002.safetensors", {"a", "b"});
  write_shard("model-00002-of-00002.safetensors", {"c"});
  write_index(R"({"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
              R"("c":"model-00002-of-00002.safetensors"})");
  auto m = SafetensorsModel::open(dir_.string());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->files().size(), 2u);
  EXPECT_EQ(m->tensor_names(), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_EQ(static_cast<const float*>(m->tensor("c")->data)[0], 0.5f);
}

TEST_F(SafetensorsFolderTest, MissingShardIsNotFoundNamingIt) {
  write_shard("model-00001-of-00002.safetensors", {"a"});
  write_index(R"({"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"})");
  auto m = SafetensorsModel::open(dir_.string());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find("shard model-00002-of-00002.safetensors (listed in "
                                      "model.safetensors.index.json for tensor \"c\") is missing"),
            std::string_view::npos)
      << m.status().message();
}

TEST_F(SafetensorsFolderTest, InconsistentIndexIsDataLoss) {
  write_shard("s1.safetensors", {"a"});
  write_shard("s2.safetensors", {"a", "b"});
  write_index(R"({"b":"s1.safetensors"})");
  auto wrong = SafetensorsModel::open(dir_.string());
  EXPECT_EQ(wrong.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(wrong.status().message().find("puts tensor \"b\" in s1.safetensors, which does not "
                                          "contain it"),
            std::string_view::npos);

  write_index(R"({"a":"s1.safetensors","b":"s2.safetensors"})");
  auto twice = SafetensorsModel::open(dir_.string());
  EXPECT_EQ(twice.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(twice.status().message().find("tensor \"a\" is in both"), std::string_view::npos);

  write_index(R"({"a":"../s1.safetensors"})");
  auto escape = SafetensorsModel::open(dir_.string());
  EXPECT_EQ(escape.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(escape.status().message().find("not a file name in the model folder"),
            std::string_view::npos);

  write_index(R"([1])");
  EXPECT_EQ(SafetensorsModel::open(dir_.string()).status().code(), StatusCode::kDataLoss);
  std::ofstream(dir_ / "model.safetensors.index.json") << "{broken";
  auto broken = SafetensorsModel::open(dir_.string());
  EXPECT_EQ(broken.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(broken.status().message().find("is not JSON"), std::string_view::npos);
}

TEST_F(SafetensorsFolderTest, TruncatedFileOnDiskIsDataLoss) {
  write_shard("model.safetensors", {"a", "b"});
  fs::resize_file(dir_ / "model.safetensors", fs::file_size(dir_ / "model.safetensors") - 4);
  auto m = SafetensorsModel::open(dir_.string());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(m.status().message().find("model.safetensors: tensor \"b\": data_offsets [8, 16] "
                                      "run past the end"),
            std::string_view::npos)
      << m.status().message();
}

TEST(DTypeTest, NamesSizesAndUnknown) {
  EXPECT_EQ(*parse_dtype("BF16"), DType::kBF16);
  EXPECT_EQ(dtype_name(DType::kF8E4M3), "F8_E4M3");
  EXPECT_EQ(dtype_size_bytes(DType::kI64), 8u);
  EXPECT_EQ(dtype_size_bytes(DType::kBool), 1u);
  auto bad = parse_dtype("f32");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("unknown dtype \"f32\"; known: BOOL"), std::string_view::npos);
}

}  // namespace
}  // namespace keel::model
