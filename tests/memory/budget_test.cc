#include "keel/memory/budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace keel::memory {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

TEST(MemoryBudgetTest, ReservesAndReleasesByLabel) {
  MemoryBudget budget(kGiB, "cpu");
  EXPECT_EQ(budget.limit_bytes(), kGiB);
  {
    auto weights = budget.reserve(600 * kMiB, "weights");
    ASSERT_TRUE(weights.ok()) << weights.status().to_string();
    EXPECT_EQ(weights->bytes(), 600 * kMiB);
    EXPECT_EQ(weights->what(), "weights");
    EXPECT_EQ(budget.reserved_bytes(), 600 * kMiB);
    EXPECT_EQ(budget.free_bytes(), kGiB - 600 * kMiB);
    BudgetSnapshot s = budget.snapshot();
    EXPECT_EQ(s.name, "cpu");
    ASSERT_EQ(s.by_label.size(), 1u);
    EXPECT_EQ(s.by_label[0].first, "weights");
  }
  EXPECT_EQ(budget.reserved_bytes(), 0u);
  EXPECT_TRUE(budget.snapshot().by_label.empty());
  EXPECT_EQ(budget.snapshot().peak_reserved_bytes, 600 * kMiB);
}

TEST(MemoryBudgetTest, RefusalNamesEveryNumber) {
  MemoryBudget budget(kGiB);
  auto weights = budget.reserve(600 * kMiB, "weights");
  auto workspace = budget.reserve(100 * kMiB, "workspace");
  ASSERT_TRUE(weights.ok() && workspace.ok());
  auto kv = budget.reserve(512 * kMiB, "KV pool");
  ASSERT_FALSE(kv.ok());
  EXPECT_EQ(kv.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(kv.status().message(),
            "KV pool needs 512.00 MiB; budget 1.00 GiB, 700.00 MiB reserved "
            "(weights 600.00 MiB, workspace 100.00 MiB), 324.00 MiB free");
  EXPECT_EQ(budget.snapshot().num_refused, 1u);
  // A refusal reserves nothing; what is free still fits.
  EXPECT_EQ(budget.reserved_bytes(), 700 * kMiB);
  EXPECT_TRUE(budget.reserve(324 * kMiB, "KV pool").ok());
}

TEST(MemoryBudgetTest, ExactFitAndZeroBytes) {
  MemoryBudget budget(100);
  auto all = budget.reserve(100, "all");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(budget.free_bytes(), 0u);
  EXPECT_TRUE(budget.reserve(0, "nothing").ok());
  EXPECT_FALSE(budget.reserve(1, "one more").ok());
  EXPECT_FALSE(budget.reserve(UINT64_MAX, "everything").ok());  // no overflow
}

TEST(MemoryBudgetTest, ReservationMovesAndReleasesOnce) {
  MemoryBudget budget(1000);
  auto r = budget.reserve(400, "a");
  ASSERT_TRUE(r.ok());
  Reservation moved = std::move(*r);
  EXPECT_EQ(moved.bytes(), 400u);
  EXPECT_EQ(budget.reserved_bytes(), 400u);
  Reservation other;
  other = std::move(moved);
  EXPECT_EQ(moved.bytes(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  moved.release();               // releasing an empty reservation is a no-op
  EXPECT_EQ(budget.reserved_bytes(), 400u);
  other.release();
  other.release();
  EXPECT_EQ(budget.reserved_bytes(), 0u);
}

TEST(MemoryBudgetTest, ReservationMayOutliveBudgetObject) {
  Reservation kept;
  {
    MemoryBudget budget(1000);
    auto r = budget.reserve(10, "a");
    ASSERT_TRUE(r.ok());
    kept = std::move(*r);
  }
  kept.release();  // the ledger is shared; no use-after-free (ASan checks this)
  EXPECT_EQ(kept.bytes(), 0u);
}

TEST(MemoryBudgetTest, SnapshotListsLargestLabelFirst) {
  MemoryBudget budget(kGiB);
  auto a = budget.reserve(kMiB, "small");
  auto b = budget.reserve(10 * kMiB, "big");
  auto c = budget.reserve(2 * kMiB, "small");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  BudgetSnapshot s = budget.snapshot();
  ASSERT_EQ(s.by_label.size(), 2u);
  EXPECT_EQ(s.by_label[0], (std::pair<std::string, uint64_t>("big", 10 * kMiB)));
  EXPECT_EQ(s.by_label[1], (std::pair<std::string, uint64_t>("small", 3 * kMiB)));
}

TEST(MemoryBudgetTest, FaultInjectorFailsNamedReservations) {
  MemoryBudget budget(kGiB);
  auto injector = std::make_shared<ScriptedFaultInjector>("KV", /*skip=*/1, /*fail_count=*/1);
  budget.set_fault_injector(injector);
  EXPECT_TRUE(budget.reserve(kMiB, "weights").ok());  // label does not match
  auto first = budget.reserve(kMiB, "KV pool");     // skipped
  EXPECT_TRUE(first.ok());
  auto second = budget.reserve(kMiB, "KV pool");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(second.status().message(), "injected fault: KV pool needs 1.00 MiB");
  EXPECT_TRUE(budget.reserve(kMiB, "KV pool").ok());  // fail_count used up
  EXPECT_EQ(injector->num_injected(), 1);
  EXPECT_EQ(budget.reserved_bytes(), kMiB);  // only `first` is still held
  budget.set_fault_injector(nullptr);
}

// Many threads reserve and release; the ledger never exceeds the limit and
// ends at zero. Run under TSan (KEEL_SANITIZE=thread) for data races.
TEST(MemoryBudgetTest, ConcurrentReservationsStayWithinLimit) {
  constexpr uint64_t kLimit = 1000;
  MemoryBudget budget(kLimit);
  std::atomic<uint64_t> granted{0}, refused{0};
  std::atomic<bool> over_limit{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        uint64_t bytes = 1 + static_cast<uint64_t>((t * 37 + i * 11) % 300);
        auto r = budget.reserve(bytes, t % 2 ? "odd" : "even");
        if (!r.ok()) {
          ++refused;
          continue;
        }
        ++granted;
        if (budget.reserved_bytes() > kLimit) over_limit = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(over_limit.load());
  EXPECT_EQ(budget.reserved_bytes(), 0u);
  EXPECT_EQ(granted + refused, 16000u);
  EXPECT_GT(granted.load(), 0u);
  EXPECT_LE(budget.snapshot().peak_reserved_bytes, kLimit);
  EXPECT_EQ(budget.snapshot().num_refused, refused.load());
}

}  // namespace
}  // namespace keel::memory
