// MemoryBudget: the one ledger every device-resident allocation is reserved
// from before it is made (weights, the KV pool, activation workspace).
//
// Contract
// - reserve(bytes, what) either accounts `bytes` under the label `what` and
//   returns a Reservation, or returns ResourceExhausted with the numbers:
//     "KV pool needs 512.00 MiB; budget 1.00 GiB, 700.00 MiB reserved
//      (weights 600.00 MiB, workspace 100.00 MiB), 324.00 MiB free"
//   It never waits: "does not fit" is an answer.
// - A Reservation is RAII: destroying it (or calling release()) returns its
//   bytes. It is move-only. It keeps the ledger alive (shared ownership), so
//   reservations may outlive the MemoryBudget object that issued them.
// - reserved_bytes() <= limit_bytes() always holds.
// - An optional FaultInjector is consulted before every reservation, and so
//   are the core fault points (core/fault.h) for the labels they name:
//   "KV pool..." -> kv_pool.alloc, "workspace..." -> workspace.alloc,
//   "weights..." -> weights.alloc, hit with the budget's rank(). An injected
//   fault returns ResourceExhausted "<what> needs <bytes>: injected fault
//   <point> (hit N)" and reserves nothing.
// Thread-safety: all methods are safe to call concurrently; a Reservation is
// a value owned by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keel/core/result.h"
#include "keel/memory/fault_injector.h"

namespace keel::memory {

class MemoryBudget;

class Reservation {
 public:
  Reservation() = default;  // empty: holds nothing
  ~Reservation() { release(); }
  Reservation(Reservation&& other) noexcept { *this = std::move(other); }
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

  uint64_t bytes() const { return bytes_; }
  const std::string& what() const { return what_; }
  // Returns the bytes to the budget now; the reservation becomes empty.
  void release();

 private:
  friend class MemoryBudget;
  struct Ledger;
  Reservation(std::shared_ptr<Ledger> ledger, uint64_t bytes, std::string what)
      : ledger_(std::move(ledger)), bytes_(bytes), what_(std::move(what)) {}

  std::shared_ptr<Ledger> ledger_;
  uint64_t bytes_ = 0;
  std::string what_;
};

// A consistent copy of the ledger, for metrics and messages.
struct BudgetSnapshot {
  std::string name;
  uint64_t limit_bytes = 0;
  uint64_t reserved_bytes = 0;
  uint64_t peak_reserved_bytes = 0;
  uint64_t num_refused = 0;  // reservations answered ResourceExhausted
  // Bytes reserved per label, largest first; labels with 0 bytes omitted.
  std::vector<std::pair<std::string, uint64_t>> by_label;

  uint64_t free_bytes() const { return limit_bytes - reserved_bytes; }
  // "budget 1.00 GiB, 700.00 MiB reserved (weights 600.00 MiB, ...), 324.00 MiB free"
  std::string to_string() const;
};

class MemoryBudget {
 public:
  // `name` identifies the budget in logs (e.g. "cpu", "cuda:0").
  explicit MemoryBudget(uint64_t limit_bytes, std::string name = "budget");
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Reserves `bytes` (0 is allowed and always succeeds unless a fault is
  // injected) under label `what`, or ResourceExhausted with the numbers.
  Result<Reservation> reserve(uint64_t bytes, std::string_view what);

  uint64_t limit_bytes() const;
  uint64_t reserved_bytes() const;
  uint64_t free_bytes() const;
  BudgetSnapshot snapshot() const;

  // Installs (or with nullptr removes) the fault hook consulted by reserve().
  void set_fault_injector(std::shared_ptr<FaultInjector> injector);

  // The tensor-parallel rank whose memory this budget holds (-1: none, the
  // default). Fault points hit by reserve() (and by a KvBlockPool created on
  // this budget's device afterwards) carry it, so `rank=R` arms select it.
  void set_rank(int rank);
  int rank() const;

 private:
  std::shared_ptr<Reservation::Ledger> ledger_;
};

}  // namespace keel::memory
