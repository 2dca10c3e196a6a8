// Checkpoint validation before anything runs: a missing tensor, a wrong
// shape, an unsupported or mixed dtype, a corrupt file — each a clear error
// naming the tensor — and the budget refusing the weights with the numbers.
#include "keel/model/weights.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "keel/model/make_model.h"
#include "keel/model/runtime.h"

namespace keel::model {
namespace {

namespace fs = std::filesystem;

class WeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("keel_weights_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    MakeModelSpec spec = *preset_spec(ModelArch::kQwen2, "tiny");
    spec.dtype = DType::kF32;
    ASSERT_TRUE(write_random_model(spec, dir_.string()).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Rewrites model.safetensors through `edit` (which may drop, reshape or
  // retype tensors).
  void rewrite(const std::function<void(std::vector<TensorToWrite>&)>& edit) {
    const std::string path = (dir_ / "model.safetensors").string();
    auto file = SafetensorsFile::open(path);
    ASSERT_TRUE(file.ok());
    std::vector<TensorToWrite> tensors;
    std::vector<std::string> copies;  // keep bytes alive after the file closes
    copies.reserve(file->num_tensors());
    for (std::string_view name : file->tensor_names()) {
      TensorView t = *file->tensor(name);
      copies.emplace_back(static_cast<const char*>(t.data), t.bytes);
      tensors.push_back({std::string(name), t.dtype, {t.shape.begin(), t.shape.end()},
                         std::as_bytes(std::span(copies.back()))});
    }
    edit(tensors);
    auto bytes = serialize_safetensors(tensors);
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    file = SafetensorsFile::parse("", "x");  // drop the mapping before overwriting
    std::ofstream(path, std::ios::binary | std::ios::trunc) << *bytes;
  }

  Status start(uint64_t budget = uint64_t{1} << 30) {
    memory::CpuDevice device(budget);
    RuntimeOptions o;
    o.model_dir = dir_.string();
    o.model.max_context_tokens = 64;
    o.model.max_batch_tokens = 16;
    o.model.max_logit_rows = 1;
    o.max_kv_tokens = 64;
    return start_runtime(o, device).status();
  }

  fs::path dir_;
};

TEST_F(WeightsTest, CompleteModelStarts) { EXPECT_TRUE(start().ok()) << start().to_string(); }

TEST_F(WeightsTest, MissingTensorIsNamed) {
  rewrite([](auto& t) {
    std::erase_if(t, [](const TensorToWrite& x) { return x.name == "model.layers.1.self_attn.k_proj.bias"; });
  });
  Status s = start();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("model.layers.1.self_attn.k_proj.bias"), std::string_view::npos) << s.to_string();
}

TEST_F(WeightsTest, WrongShapeNamesBothShapes) {
  rewrite([](auto& t) {
    for (TensorToWrite& x : t) {
      if (x.name == "model.layers.0.mlp.down_proj.weight") x.shape = {128, 64};  // transposed
    }
  });
  Status s = start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("down_proj.weight has shape [128, 64], config.json implies [64, 128]"),
            std::string_view::npos)
      << s.to_string();
}

TEST_F(WeightsTest, UnsupportedAndMixedDtypes) {
  rewrite([](auto& t) {
    for (TensorToWrite& x : t) {
      if (x.name == "model.norm.weight") x.dtype = DType::kI32;  // same byte size as F32
    }
  });
  Status s = start();
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("model.norm.weight has dtype I32"), std::string_view::npos) << s.to_string();
}

TEST_F(WeightsTest, CorruptFileIsDataLoss) {
  std::ofstream(dir_ / "model.safetensors", std::ios::binary | std::ios::trunc) << "garbage!!";
  EXPECT_EQ(start().code(), StatusCode::kDataLoss);
}

TEST_F(WeightsTest, TooSmallBudgetStopsBeforeAllocatingWithTheNumbers) {
  Status s = start(200 << 10);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  for (const char* part : {"weights need", "KV pool", "workspace", "budget 200.00 KiB",
                           "raise --memory-limit"}) {
    EXPECT_NE(s.message().find(part), std::string_view::npos) << part << " in " << s.to_string();
  }
}

TEST_F(WeightsTest, PlanCountsExactBytes) {
  auto ckpt = SafetensorsModel::open(dir_.string());
  ASSERT_TRUE(ckpt.ok());
  auto config = load_model_config(dir_.string());
  ASSERT_TRUE(config.ok());
  auto plan = plan_weights(arch_sources(*config), *ckpt);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  // Every checkpoint tensor is used once (f32 in, f32 out); alignment adds
  // less than 64 bytes per array.
  EXPECT_GE(plan->bytes, ckpt->total_tensor_bytes());
  EXPECT_LT(plan->bytes, ckpt->total_tensor_bytes() + 64 * 200);
  EXPECT_EQ(plan->num_parameters * 4, ckpt->total_tensor_bytes());
}

}  // namespace
}  // namespace keel::model
