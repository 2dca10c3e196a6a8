// Tensor-parallel shards (model/arch/shard.h) against the unsplit model and
// the independent numpy reference: every architecture, TP = 2 and 4 (KV heads
// split, and replicated where N > K), biases (qkv split, o bias on rank 0
// only), Qwen3's q/k norms, InternLM2's grouped wqkv, tied and untied
// embeddings — prefill, chunked prefill and one-token decode. Plus the split
// helpers and the refusal of shapes that do not divide.
#include <gtest/gtest.h>

#include <random>

#include "keel/memory/block_table.h"
#include "keel/model/arch/shard.h"
#include "keel/model/make_model.h"
#include "keel/parallel/rank_budget.h"
#include "keel/parallel/rank_group.h"
#include "model/model_test_util.h"

namespace keel::model {
namespace {

namespace fs = std::filesystem;
using keel::testing::ModelHarness;
using keel::testing::relative_error;

// world_size ranks of one model: devices, a RankGroup, a runtime per rank.
class TpHarness {
 public:
  TpHarness(const std::string& dir, int world, int block_size) {
    auto devices = parallel::make_rank_devices(uint64_t{1} << 30, world);
    EXPECT_TRUE(devices.ok());
    devices_ = std::move(devices).value();
    parallel::RankGroupOptions go;
    go.world_size = world;
    go.comm.max_elements = 512 * 256;
    for (auto& d : devices_) go.comm.devices.push_back(d.get());
    auto group = parallel::RankGroup::create(go);
    EXPECT_TRUE(group.ok()) << group.status().to_string();
    group_ = std::move(group).value();
    for (int r = 0; r < world; ++r) {
      RuntimeOptions o;
      o.model_dir = dir;
      o.kv_dtype = memory::KvDtype::kF32;
      o.block_size_tokens = block_size;
      o.model.max_batch_tokens = 512;
      o.model.max_logit_rows = 512;
      o.model.max_context_tokens = 512;
      o.max_kv_tokens = 2048;
      o.tp_rank = r;
      o.tp_size = world;
      auto rt = start_runtime(o, *devices_[static_cast<size_t>(r)]);
      EXPECT_TRUE(rt.ok()) << "rank " << r << ": " << rt.status().to_string();
      if (!rt.ok()) return;
      rt->model->set_tensor_parallel(&group_->comm_group().comm(r), nullptr);
      ranks_.push_back(std::move(rt).value());
    }
  }
  ~TpHarness() {
    for (auto& t : tables_) EXPECT_TRUE(t.release(*ranks_[0].kv_pool).ok());
    group_.reset();
  }
  bool ok() const { return !ranks_.empty() && ranks_.size() == devices_.size(); }
  const Runtime& rank(int r) const { return ranks_[static_cast<size_t>(r)]; }

  size_t new_sequence() {
    tables_.emplace_back(ranks_[0].kv_pool->shape().block_size_tokens);
    lengths_.push_back(0);
    return tables_.size() - 1;
  }

  // One step on every rank; rank 0's logits.
  std::vector<float> step(size_t seq, const std::vector<int32_t>& tokens, LogitsWanted wanted) {
    EXPECT_TRUE(
        tables_[seq].append_tokens(static_cast<int64_t>(tokens.size()), *ranks_[0].kv_pool).ok());
    SequenceStep s;
    s.tokens = tokens;
    s.start_pos = lengths_[seq];
    s.block_table = tables_[seq].blocks();
    s.logits = wanted;
    lengths_[seq] += static_cast<int64_t>(tokens.size());
    const Deadline deadline = Deadline::after(std::chrono::seconds(60));
    std::vector<float> out;
    const Status st = group_->run_step(
        [&](int r, parallel::Communicator&) -> Status {
          Runtime& rt = ranks_[static_cast<size_t>(r)];
          rt.model->set_collective_deadline(deadline);
          auto logits = rt.model->forward({&s, 1}, *rt.kv_pool);
          if (!logits.ok()) return logits.status();
          if (r == 0) {
            out.assign(logits->begin(), logits->end());
          } else if (!logits->empty()) {
            return InternalError("rank {} returned logits", r);
          }
          return OkStatus();
        },
        deadline);
    EXPECT_TRUE(st.ok()) << st.to_string();
    return out;
  }

 private:
  std::vector<std::unique_ptr<memory::CpuDevice>> devices_;
  std::unique_ptr<parallel::RankGroup> group_;
  std::vector<Runtime> ranks_;
  std::vector<memory::BlockTable> tables_;
  std::vector<int64_t> lengths_;
};

struct Case {
  std::string name;
  MakeModelSpec spec;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// 4 heads, 2 KV heads, intermediate 128.
MakeModelSpec tiny(ModelArch arch) { return keel::testing::tiny_f32_spec(arch, 21); }

std::vector<Case> cases() {
  std::vector<Case> v;
  {
    Case c{"llama_gqa_bias", tiny(ModelArch::kLlama)};
    c.spec.attention_bias = true;  // q/k/v split by rows, o bias on rank 0
    v.push_back(c);
  }
  {
    Case c{"llama_mha_tied", tiny(ModelArch::kLlama)};
    c.spec.num_kv_heads = 4;
    c.spec.tie_word_embeddings = true;
    v.push_back(c);
  }
  v.push_back({"mistral", tiny(ModelArch::kMistral)});
  v.push_back({"qwen2_bias", tiny(ModelArch::kQwen2)});
  {
    Case c{"qwen3_qknorm_wide_heads", tiny(ModelArch::kQwen3)};
    c.spec.head_dim = 32;
    v.push_back(c);
  }
  {
    Case c{"internlm2_grouped_wqkv_bias", tiny(ModelArch::kInternLM2)};
    c.spec.num_heads = 8;
    c.spec.head_dim = 8;
    c.spec.num_kv_heads = 2;
    c.spec.attention_bias = true;
    v.push_back(c);
  }
  return v;
}

class TensorParallelTest : public ::testing::TestWithParam<Case> {};

TEST_P(TensorParallelTest, ShardsMatchTheWholeModelAndTheReference) {
  const Case& c = GetParam();
  const fs::path dir = fs::temp_directory_path() /
                       ("keel_tp_" + c.name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(write_random_model(c.spec, dir.string()).ok());
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(c.spec.vocab_size - 1));
  std::vector<int32_t> tokens(37);
  for (auto& t : tokens) t = id(rng);
  const auto vocab = static_cast<size_t>(c.spec.vocab_size);
  const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 29);

  // TP = 1: prefill of the prompt (every row), then one token per step.
  std::vector<float> whole;
  {
    ModelHarness h(dir.string(), memory::KvDtype::kF32, /*block_size=*/4);
    ASSERT_TRUE(h.status().ok()) << h.status().to_string();
    const size_t s = h.new_sequence();
    whole = h.step({{s, prompt}});
    for (size_t i = prompt.size(); i < tokens.size(); ++i) {
      std::vector<float> row = h.step({{s, {tokens[i]}, LogitsWanted::kLast}});
      whole.insert(whole.end(), row.begin(), row.end());
    }
  }
  ASSERT_EQ(whole.size(), tokens.size() * vocab);
  std::vector<float> ref;
  if (keel::testing::have_reference()) ref = keel::testing::reference_logits(dir.string(), tokens);

  for (int world : {2, 4}) {
    SCOPED_TRACE("tp " + std::to_string(world));
    TpHarness tp(dir.string(), world, /*block_size=*/4);
    ASSERT_TRUE(tp.ok());
    const ModelConfig& c0 = tp.rank(0).config;
    EXPECT_EQ(c0.num_heads, c.spec.num_heads / world);
    EXPECT_EQ(c0.num_kv_heads, std::max<int64_t>(c.spec.num_kv_heads / world, 1));
    EXPECT_EQ(c0.intermediate_size, c.spec.intermediate_size / world);
    const size_t s = tp.new_sequence();
    // The prompt in two chunks (chunked prefill), then decode.
    const std::vector<int32_t> a(prompt.begin(), prompt.begin() + 13);
    const std::vector<int32_t> b(prompt.begin() + 13, prompt.end());
    std::vector<float> got = tp.step(s, a, LogitsWanted::kAll);
    std::vector<float> rest = tp.step(s, b, LogitsWanted::kAll);
    got.insert(got.end(), rest.begin(), rest.end());
    for (size_t i = prompt.size(); i < tokens.size(); ++i) {
      std::vector<float> row = tp.step(s, {tokens[i]}, LogitsWanted::kLast);
      got.insert(got.end(), row.begin(), row.end());
    }
    ASSERT_EQ(got.size(), whole.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      EXPECT_LE(relative_error(&got[i * vocab], &whole[i * vocab], vocab), 1e-5)
          << c.name << " position " << i << " vs TP=1";
      if (!ref.empty()) {
        EXPECT_LE(relative_error(&got[i * vocab], &ref[i * vocab], vocab), 1e-4)
            << c.name << " position " << i << " vs the reference";
      }
    }
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Architectures, TensorParallelTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(ShardTest, SliceRowsFollowsTheFusedLayout) {
  // Two tensors stacked: rows [0,3) of "a", then rows [0,5) of "b".
  FusedSource s = stacked({{"a", 3}, {"b", 5}}, 7);
  FusedSource mid = slice_rows(s, 2, 6);  // a[2,3) + b[0,3)
  ASSERT_EQ(mid.parts.size(), 2u);
  EXPECT_EQ(mid.rows, 4);
  EXPECT_EQ(mid.parts[0].tensor, "a");
  EXPECT_EQ(mid.parts[0].row_begin, 2);
  EXPECT_EQ(mid.parts[0].row_end, 3);
  EXPECT_EQ(mid.parts[1].tensor, "b");
  EXPECT_EQ(mid.parts[1].row_begin, 0);
  EXPECT_EQ(mid.parts[1].row_end, 3);
  FusedSource cols = slice_cols(slice_cols(s, 2, 6), 1, 3);  // columns [3, 5) of 7
  EXPECT_EQ(cols.col_begin, 3);
  EXPECT_EQ(cols.cols, 2);
  EXPECT_EQ(cols.full_cols(), 7);
  FusedSource both = concat_rows(slice_rows(s, 0, 1), slice_rows(s, 7, 8));
  EXPECT_EQ(both.rows, 2);
  EXPECT_EQ(both.parts[1].tensor, "b");
  EXPECT_EQ(both.parts[1].row_begin, 4);
}

TEST(ShardTest, ShapesThatDoNotDivideAreRefusedWithTheValuesThatWork) {
  ModelConfig c;
  c.num_heads = 14;  // Qwen2.5-0.5B: 14 heads, 2 KV heads, intermediate 4864
  c.num_kv_heads = 2;
  c.intermediate_size = 4864;
  EXPECT_TRUE(check_shardable(c, 1).ok());
  EXPECT_TRUE(check_shardable(c, 2).ok());
  const Status s = check_shardable(c, 4);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("num_attention_heads = 14 is not divisible by 4"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("values that work for this model: 1, 2"), std::string::npos)
      << s.message();
  c.num_heads = 12;
  c.num_kv_heads = 3;
  c.intermediate_size = 64;
  EXPECT_NE(check_shardable(c, 2).message().find("num_key_value_heads = 3"), std::string::npos);
  EXPECT_EQ(check_shardable(c, 0).code(), StatusCode::kInvalidArgument);
  // Replicated KV heads: 2 KV heads over 4 ranks, ranks 0-1 share head 0.
  c.num_heads = 8;
  c.num_kv_heads = 2;
  EXPECT_TRUE(check_shardable(c, 4).ok());
  EXPECT_EQ(shard_config(c, 3, 4).num_kv_heads, 1);
  EXPECT_EQ(shard_config(c, 3, 4).num_heads, 2);
}

}  // namespace
}  // namespace keel::model
