// Collectives on healthy groups: exact results against a serial reference,
// bit-identical across ranks and runs, argument checks, budgets, stress.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "keel/parallel/communicator.h"
#include "keel/parallel/rank_budget.h"
#include "parallel/rank_threads.h"

namespace keel::parallel {
namespace {

using testing::rank_order_sum;
using testing::run_ranks;

constexpr int64_t kLongMs = 30000;  // deadlines that healthy tests never reach

std::unique_ptr<CommGroup> make_group(int world, size_t max_elements) {
  CommOptions options;
  options.max_elements = max_elements;
  auto group = create_group(world, options);
  EXPECT_TRUE(group.ok()) << group.status().to_string();
  return std::move(group).value();
}

// Values over many magnitudes and both signs, so that summation order
// changes the bits (a reference in another order would not match).
std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> expo(-20, 20);
  std::vector<float> v(n);
  for (auto& x : v) x = std::ldexp(mant(rng), expo(rng));
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  return a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(CollectivesTest, AllReduceEqualsRankOrderSumBitForBit) {
  const std::vector<size_t> sizes = {0, 1, 5, 15, 16, 17, 63, 1000, 4099, 3 * 4096 + 5};
  for (int world : {1, 2, 3, 4, 5, 7}) {
    auto group = make_group(world, 3 * 4096 + 5);
    for (int rep = 0; rep < 3; ++rep) {
      for (size_t n : sizes) {
        std::vector<std::vector<float>> inputs, outputs;
        for (int r = 0; r < world; ++r) {
          inputs.push_back(random_floats(n, static_cast<uint32_t>(1000 * rep + 10 * r + n)));
        }
        outputs = inputs;
        run_ranks(*group, [&](int r, Communicator& comm) {
          Status s = comm.all_reduce_sum(outputs[static_cast<size_t>(r)],
                                         Deadline::after_ms(kLongMs));
          EXPECT_TRUE(s.ok()) << s.to_string();
        });
        const std::vector<float> expect = rank_order_sum(inputs);
        for (int r = 0; r < world; ++r) {
          EXPECT_TRUE(same_bits(outputs[static_cast<size_t>(r)], expect))
              << "world " << world << " n " << n << " rank " << r;
        }
      }
    }
  }
}

TEST(CollectivesTest, AllReduceIsDeterministicAcrossRuns) {
  constexpr size_t kN = 4096 * 4 + 3;
  for (int world : {2, 3, 4}) {
    auto group = make_group(world, kN);
    std::vector<std::vector<float>> inputs;
    for (int r = 0; r < world; ++r) inputs.push_back(random_floats(kN, 77u + static_cast<uint32_t>(r)));
    std::vector<float> first;
    for (int run = 0; run < 50; ++run) {
      auto outputs = inputs;
      run_ranks(*group, [&](int r, Communicator& comm) {
        EXPECT_TRUE(comm.all_reduce_sum(outputs[static_cast<size_t>(r)],
                                        Deadline::after_ms(kLongMs)).ok());
      });
      if (run == 0) first = outputs[0];
      for (int r = 0; r < world; ++r) {
        ASSERT_TRUE(same_bits(outputs[static_cast<size_t>(r)], first)) << "run " << run;
      }
    }
    EXPECT_TRUE(same_bits(first, rank_order_sum(inputs)));
  }
}

TEST(CollectivesTest, AllGatherConcatenatesInRankOrder) {
  for (int world : {1, 2, 3, 4, 5}) {
    auto group = make_group(world, 1000);
    for (size_t m : {size_t{0}, size_t{1}, size_t{17}, size_t{1000}}) {
      std::vector<std::vector<float>> outs(static_cast<size_t>(world),
                                           std::vector<float>(m * static_cast<size_t>(world), -1));
      run_ranks(*group, [&](int r, Communicator& comm) {
        std::vector<float> mine(m);
        for (size_t i = 0; i < m; ++i) mine[i] = static_cast<float>(r * 10000 + static_cast<int>(i));
        Status s = comm.all_gather(mine, outs[static_cast<size_t>(r)], Deadline::after_ms(kLongMs));
        EXPECT_TRUE(s.ok()) << s.to_string();
      });
      for (int r = 0; r < world; ++r) {
        for (int q = 0; q < world; ++q) {
          for (size_t i = 0; i < m; ++i) {
            ASSERT_EQ(outs[static_cast<size_t>(r)][static_cast<size_t>(q) * m + i],
                      static_cast<float>(q * 10000 + static_cast<int>(i)));
          }
        }
      }
    }
  }
}

TEST(CollectivesTest, BroadcastFromEveryRoot) {
  for (int world : {1, 2, 3, 4}) {
    auto group = make_group(world, 300);
    for (int root = 0; root < world; ++root) {
      std::vector<std::vector<float>> data;
      for (int r = 0; r < world; ++r) data.push_back(random_floats(300, static_cast<uint32_t>(r)));
      const std::vector<float> expect = data[static_cast<size_t>(root)];
      run_ranks(*group, [&](int r, Communicator& comm) {
        EXPECT_TRUE(comm.broadcast(data[static_cast<size_t>(r)], root,
                                   Deadline::after_ms(kLongMs)).ok());
      });
      for (int r = 0; r < world; ++r) EXPECT_TRUE(same_bits(data[static_cast<size_t>(r)], expect));
    }
  }
}

TEST(CollectivesTest, BarrierWaitsForEveryRank) {
  for (int world : {2, 3, 4}) {
    auto group = make_group(world, 16);
    std::atomic<int> before{0};
    std::atomic<int> wrong{0};
    run_ranks(*group, [&](int, Communicator& comm) {
      for (int round = 1; round <= 200; ++round) {
        before.fetch_add(1);
        ASSERT_TRUE(comm.barrier(Deadline::after_ms(kLongMs)).ok());
        if (before.load() < round * world) wrong.fetch_add(1);
        ASSERT_TRUE(comm.barrier(Deadline::after_ms(kLongMs)).ok());
      }
    });
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(group->comm(0).num_collectives(), 400u);
  }
}

TEST(CollectivesTest, TensorParallelSizesAtTheDefaultCapacity) {
  // hidden 4096 x 512 tokens, the default group (sized for 2048 tokens).
  constexpr size_t kN = size_t{4096} * 512;
  auto group = create_group(4);
  ASSERT_TRUE(group.ok());
  EXPECT_EQ((*group)->max_elements(), size_t{4096} * 2048);
  std::vector<std::vector<float>> inputs;
  for (int r = 0; r < 4; ++r) inputs.push_back(random_floats(kN, static_cast<uint32_t>(r + 5)));
  auto outputs = inputs;
  run_ranks(**group, [&](int r, Communicator& comm) {
    EXPECT_TRUE(comm.all_reduce_sum(outputs[static_cast<size_t>(r)],
                                    Deadline::after_ms(kLongMs)).ok());
  });
  const auto expect = rank_order_sum(inputs);
  for (int r = 0; r < 4; ++r) EXPECT_TRUE(same_bits(outputs[static_cast<size_t>(r)], expect));
}

TEST(CollectivesTest, StressTenThousandMixedCollectives) {
  constexpr int kWorld = 4;
  constexpr int kIterations = 10000;
  auto group = make_group(kWorld, 64);
  std::atomic<int> bad{0};
  run_ranks(*group, [&](int r, Communicator& comm) {
    std::vector<float> data(37), gathered(37 * kWorld);
    for (int it = 0; it < kIterations; ++it) {
      const Deadline deadline = Deadline::after_ms(kLongMs);
      const size_t n = 1 + static_cast<size_t>(it % 37);
      std::span<float> view(data.data(), n);
      Status s;
      switch (it % 4) {
        case 0:
          for (size_t i = 0; i < n; ++i) view[i] = static_cast<float>(r + 1) * static_cast<float>(i + it);
          s = comm.all_reduce_sum(view, deadline);
          for (size_t i = 0; i < n && s.ok(); ++i) {
            if (view[i] != static_cast<float>(kWorld * (kWorld + 1) / 2) * static_cast<float>(i + it)) {
              bad.fetch_add(1);
            }
          }
          break;
        case 1:
          for (size_t i = 0; i < n; ++i) view[i] = static_cast<float>(r * 1000 + it % 1000);
          s = comm.all_gather(view, std::span<float>(gathered.data(), n * kWorld), deadline);
          for (int q = 0; q < kWorld && s.ok(); ++q) {
            if (gathered[static_cast<size_t>(q) * n] != static_cast<float>(q * 1000 + it % 1000)) {
              bad.fetch_add(1);
            }
          }
          break;
        case 2:
          view[0] = static_cast<float>(r == it % kWorld ? it : -1);
          s = comm.broadcast(view, it % kWorld, deadline);
          if (s.ok() && view[0] != static_cast<float>(it)) bad.fetch_add(1);
          break;
        default:
          s = comm.barrier(deadline);
      }
      if (!s.ok()) {
        ADD_FAILURE() << "rank " << r << " iteration " << it << ": " << s.to_string();
        return;
      }
    }
  }, std::chrono::milliseconds(240000));
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(group->comm(3).num_collectives(), static_cast<uint64_t>(kIterations));
  EXPECT_TRUE(group->group_status().ok());
}

TEST(CollectivesTest, TooManyElementsIsInvalidArgumentAndAbortsTheGroup) {
  auto group = make_group(2, 8);
  std::vector<Status> got(2);
  run_ranks(*group, [&](int r, Communicator& comm) {
    std::vector<float> data(r == 0 ? 9 : 8);
    got[static_cast<size_t>(r)] = comm.all_reduce_sum(data, Deadline::after_ms(kLongMs));
  });
  EXPECT_EQ(got[0].code(), StatusCode::kInvalidArgument) << got[0].to_string();
  EXPECT_NE(got[0].message().find("9 floats exceed the communicator's max_elements 8"),
            std::string::npos) << got[0].to_string();
  // The peer learns at once instead of waiting for its deadline.
  EXPECT_EQ(got[1].code(), StatusCode::kUnavailable) << got[1].to_string();
  EXPECT_NE(got[1].message().find("rank 0 failed: INVALID_ARGUMENT"), std::string::npos);
  EXPECT_TRUE(group->reset(Deadline::after_ms(kLongMs)).ok());
}

TEST(CollectivesTest, BadGatherOutputAndBroadcastRootAreInvalidArgument) {
  auto group = make_group(1, 8);
  std::vector<float> mine(4), out(5);
  EXPECT_EQ(group->comm(0).all_gather(mine, out, Deadline::after_ms(kLongMs)).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(group->reset(Deadline::after_ms(kLongMs)).ok());
  group->comm(0).rejoin();
  EXPECT_EQ(group->comm(0).broadcast(mine, 1, Deadline::after_ms(kLongMs)).code(),
            StatusCode::kInvalidArgument);
}

TEST(CollectivesTest, MismatchedCollectivesAreDetectedOnEveryRank) {
  auto group = make_group(3, 64);
  std::vector<Status> got(3);
  run_ranks(*group, [&](int r, Communicator& comm) {
    std::vector<float> data(r == 2 ? 32 : 16);
    got[static_cast<size_t>(r)] = comm.all_reduce_sum(data, Deadline::after_ms(kLongMs));
  });
  for (const Status& s : got) {
    EXPECT_EQ(s.code(), StatusCode::kInternal) << s.to_string();
    EXPECT_NE(s.message().find("collective mismatch"), std::string::npos) << s.to_string();
    EXPECT_NE(s.message().find("rank 2: all_reduce of 32 floats #1"), std::string::npos)
        << s.to_string();
  }
  ASSERT_TRUE(group->failure().has_value());
  EXPECT_EQ(group->failure()->rank, 2);
}

TEST(CollectivesTest, BadOptionsAreRefused) {
  EXPECT_EQ(create_group(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(create_group(65).status().code(), StatusCode::kInvalidArgument);
  CommOptions zero;
  zero.max_elements = 0;
  EXPECT_EQ(create_group(2, zero).status().code(), StatusCode::kInvalidArgument);
  CommOptions one_device;
  memory::CpuDevice device(1 << 20);
  one_device.devices = {&device};
  EXPECT_EQ(create_group(2, one_device).status().code(), StatusCode::kInvalidArgument);
}

TEST(RankBudgetTest, SplitsTheTotalEvenly) {
  EXPECT_EQ(*split_budget(1000, 4), 250u);
  EXPECT_EQ(*split_budget(1003, 4), 250u);
  EXPECT_EQ(*split_budget(7, 1), 7u);
  EXPECT_EQ(split_budget(100, 0).status().code(), StatusCode::kInvalidArgument);
  auto devices = make_rank_devices(uint64_t{64} << 20, 4);
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 4u);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ((*devices)[static_cast<size_t>(r)]->budget().limit_bytes(), uint64_t{16} << 20);
    EXPECT_EQ((*devices)[static_cast<size_t>(r)]->budget().rank(), r);
  }
}

TEST(RankBudgetTest, StagingMemoryIsReservedFromEachRanksBudget) {
  auto devices = make_rank_devices(uint64_t{8} << 20, 4);
  ASSERT_TRUE(devices.ok());
  CommOptions options;
  options.max_elements = 4096;
  for (auto& d : *devices) options.devices.push_back(d.get());
  {
    auto group = create_group(4, options);
    ASSERT_TRUE(group.ok()) << group.status().to_string();
    for (int r = 0; r < 4; ++r) {
      auto snap = (*devices)[static_cast<size_t>(r)]->budget().snapshot();
      EXPECT_EQ(snap.reserved_bytes, (4096 + 1024) * sizeof(float));
      ASSERT_EQ(snap.by_label.size(), 1u);
      EXPECT_EQ(snap.by_label[0].first, fmt::format("collective buffers (rank {})", r));
    }
  }
  for (auto& d : *devices) EXPECT_EQ(d->budget().reserved_bytes(), 0u);
  // A rank whose budget is too small: ResourceExhausted naming it.
  options.max_elements = size_t{1} << 20;  // 4 MiB + 1 MiB per rank > 2 MiB
  auto too_big = create_group(4, options);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(too_big.status().message().rfind("rank 0: collective buffers (rank 0) needs", 0), 0u)
      << too_big.status().to_string();
  for (auto& d : *devices) EXPECT_EQ(d->budget().reserved_bytes(), 0u);
}

}  // namespace
}  // namespace keel::parallel
