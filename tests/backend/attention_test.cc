// Paged attention (GQA, causal, f32/f16/bf16 KV) and write_kv, every ISA
// variant, against ref::attention over the same pool.
//
// Tolerance: 2e-5 absolute (outputs are convex combinations of V rows in
// [-1, 1]; online vs two-pass softmax differ only in rounding).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "backend_test_util.h"
#include "keel/backend/cpu/reference.h"

namespace keel::backend {
namespace {

using testing::random_floats;

struct Case {
  int n_heads, n_kv_heads, head_dim, block_size;
  int64_t start_pos, n_q;
};

constexpr Case kCases[] = {
    {4, 4, 8, 4, 0, 1},      // first token
    {14, 2, 64, 16, 37, 1},  // Qwen2.5-0.5B decode
    {8, 2, 33, 5, 10, 7},    // odd head_dim and block size, chunked prefill
    {4, 1, 64, 16, 0, 20},   // MQA prefill from 0
    {32, 8, 64, 16, 100, 3}, // Llama-3.2-1B, several new tokens
    {2, 2, 16, 1, 9, 2},     // block_size 1
    {6, 3, 128, 32, 200, 1}, // long context in few blocks
};

class AttentionTest : public ::testing::TestWithParam<std::tuple<Isa, DType, bool>> {};

TEST_P(AttentionTest, MatchesReference) {
  const auto [isa, dtype, threaded] = GetParam();
  ThreadPool pool(2);
  auto k = CpuKernels::create(isa, threaded ? &pool : nullptr);
  ASSERT_TRUE(k.ok());
  uint32_t seed = 100;
  for (const Case& c : kCases) {
    ++seed;
    const int64_t n_ctx = c.start_pos + c.n_q;
    const int64_t n_blocks = (n_ctx + c.block_size - 1) / c.block_size;
    KvLayout layout{c.n_kv_heads, c.block_size, c.head_dim, dtype};
    const int64_t pool_blocks = n_blocks + 3;
    // Blocks scattered through the pool in a shuffled order.
    std::vector<int32_t> table(static_cast<size_t>(pool_blocks));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(seed));
    table.resize(static_cast<size_t>(n_blocks));
    std::vector<uint8_t> k_pool(layout.block_bytes() * pool_blocks, 0xff);  // NaN-filled in 16 bit
    std::vector<uint8_t> v_pool(k_pool.size(), 0xff);
    KvCacheMutView cache{k_pool.data(), v_pool.data(), pool_blocks, layout};
    // K/V for all positions: (n_ctx, n_kv_heads, head_dim), written in two calls.
    const size_t row = static_cast<size_t>(c.n_kv_heads * c.head_dim);
    const auto kv_k = random_floats(row * n_ctx, seed + 1);
    const auto kv_v = random_floats(row * n_ctx, seed + 2);
    if (c.start_pos > 0) {
      ASSERT_TRUE(k->write_kv(kv_k.data(), kv_v.data(), c.start_pos, 0, table, cache).ok());
    }
    ASSERT_TRUE(k->write_kv(kv_k.data() + row * c.start_pos, kv_v.data() + row * c.start_pos,
                            c.n_q, c.start_pos, table, cache)
                    .ok());
    const auto q = random_floats(static_cast<size_t>(c.n_q * c.n_heads * c.head_dim), seed + 3, -2, 2);
    AttentionArgs a;
    a.q = q.data();
    a.n_q_tokens = c.n_q;
    a.n_heads = c.n_heads;
    a.start_pos = c.start_pos;
    a.block_table = table;
    a.kv = cache.view();
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    std::vector<float> out(q.size(), NAN), want(q.size());
    a.out = out.data();
    ASSERT_TRUE(k->attention(a).ok());
    a.out = want.data();
    ref::attention(a);
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_NEAR(out[i], want[i], 2e-5) << "case heads=" << c.n_heads << "/" << c.n_kv_heads
                                         << " d=" << c.head_dim << " bs=" << c.block_size
                                         << " start=" << c.start_pos << " n=" << c.n_q << " i=" << i;
    }
    // The cache holds the written values, rounded to its dtype.
    const size_t off = layout.offset(table[0], c.n_kv_heads - 1, 0);
    float got = 0;
    convert_to_f32(k_pool.data() + off * dtype_bytes(dtype), dtype, 1, &got);
    float expect = 0;
    std::vector<uint8_t> tmp(4);
    convert_from_f32(kv_k.data() + (c.n_kv_heads - 1) * c.head_dim, 1, dtype, tmp.data());
    convert_to_f32(tmp.data(), dtype, 1, &expect);
    EXPECT_EQ(got, expect);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllIsas, AttentionTest,
    ::testing::Combine(::testing::ValuesIn(supported_isas()), ::testing::ValuesIn(testing::kAllDTypes),
                       ::testing::Bool()),
    [](const auto& p) {
      return testing::isa_param_name(std::get<0>(p.param)) + "_" +
             std::string(dtype_name(std::get<1>(p.param))) +
             (std::get<2>(p.param) ? "_threads" : "_inline");
    });

// memory/'s pool layout: (num_blocks, num_layers, num_kv_heads, block_size,
// head_dim). Each layer is a strided view; writing one layer leaves the other
// untouched and attention over it matches the reference.
TEST(Attention, MultiLayerPoolThroughBlockStride) {
  const int num_layers = 3, layer = 1;
  KvLayout layout{2, 4, 16, DType::kF16};
  const int64_t num_blocks = 4;
  layout.block_stride = num_layers * layout.block_elems();
  std::vector<uint16_t> k_all(num_blocks * layout.block_stride, 0x7e00);  // NaN
  std::vector<uint16_t> v_all(k_all.size(), 0x7e00);
  KvCacheMutView cache{k_all.data() + layer * layout.block_elems(),
                       v_all.data() + layer * layout.block_elems(), num_blocks, layout};
  for (Isa isa : supported_isas()) {
    auto k = CpuKernels::create(isa, nullptr);
    ASSERT_TRUE(k.ok());
    const std::vector<int32_t> table = {3, 0, 2};
    const int64_t n_ctx = 10;
    const auto kk = random_floats(static_cast<size_t>(n_ctx * 2 * 16), 5);
    const auto vv = random_floats(kk.size(), 6);
    ASSERT_TRUE(k->write_kv(kk.data(), vv.data(), n_ctx, 0, table, cache).ok());
    const auto q = random_floats(4 * 16, 7);
    std::vector<float> out(q.size()), want(q.size());
    AttentionArgs a;
    a.q = q.data();
    a.n_q_tokens = 1;
    a.n_heads = 4;
    a.start_pos = n_ctx - 1;
    a.block_table = table;
    a.kv = cache.view();
    a.scale = 0.25f;
    a.out = out.data();
    ASSERT_TRUE(k->attention(a).ok());
    a.out = want.data();
    ref::attention(a);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], want[i], 2e-5) << isa_name(isa);
  }
  // Layers 0 and 2 were never written.
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int l : {0, 2}) {
      const size_t at = b * layout.block_stride + l * layout.block_elems();
      EXPECT_EQ(k_all[at], 0x7e00);
      EXPECT_EQ(v_all[at + layout.block_elems() - 1], 0x7e00);
    }
  }
}

TEST(Attention, RejectsBadArguments) {
  auto k = CpuKernels::create(Isa::kScalar, nullptr);
  ASSERT_TRUE(k.ok());
  KvLayout layout{2, 4, 8, DType::kF32};
  std::vector<float> k_pool(layout.block_elems() * 2), v_pool(k_pool.size());
  std::vector<float> q(3 * 8), out(q.size());
  const std::vector<int32_t> table = {1};
  AttentionArgs a;
  a.q = q.data();
  a.out = out.data();
  a.n_q_tokens = 1;
  a.n_heads = 3;  // not a multiple of 2 kv heads
  a.start_pos = 0;
  a.block_table = table;
  a.kv = {k_pool.data(), v_pool.data(), 2, layout};
  a.scale = 1;
  EXPECT_EQ(k->attention(a).code(), StatusCode::kInvalidArgument);
  a.n_heads = 2;
  EXPECT_TRUE(k->attention(a).ok());
  a.start_pos = 4;  // position 4 needs a second block
  EXPECT_EQ(k->attention(a).code(), StatusCode::kInvalidArgument);
  const std::vector<int32_t> outside = {2};
  a.start_pos = 0;
  a.block_table = outside;
  EXPECT_EQ(k->attention(a).code(), StatusCode::kInvalidArgument);
  KvCacheMutView cache{k_pool.data(), v_pool.data(), 2, layout};
  EXPECT_EQ(k->write_kv(q.data(), q.data(), 1, 4, table, cache).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keel::backend
