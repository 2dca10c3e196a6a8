#include "keel/memory/budget.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "keel/core/check.h"
#include "keel/core/fault.h"
#include "keel/memory/bytes.h"

namespace keel::memory {

struct Reservation::Ledger {
  Ledger(uint64_t limit, std::string budget_name)
      : limit_bytes(limit), name(std::move(budget_name)) {}

  const uint64_t limit_bytes;
  const std::string name;
  mutable std::mutex mu;
  uint64_t reserved_bytes = 0;       // guarded by mu
  uint64_t peak_reserved_bytes = 0;  // guarded by mu
  uint64_t num_refused = 0;          // guarded by mu
  std::map<std::string, uint64_t, std::less<>> by_label;  // guarded by mu
  std::shared_ptr<FaultInjector> injector;                // guarded by mu
  std::atomic<int> rank{-1};

  // Requires mu held.
  BudgetSnapshot snapshot_locked() const {
    BudgetSnapshot s;
    s.name = name;
    s.limit_bytes = limit_bytes;
    s.reserved_bytes = reserved_bytes;
    s.peak_reserved_bytes = peak_reserved_bytes;
    s.num_refused = num_refused;
    for (const auto& [label, bytes] : by_label) {
      if (bytes > 0) s.by_label.emplace_back(label, bytes);
    }
    std::stable_sort(s.by_label.begin(), s.by_label.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    return s;
  }

  void give_back(uint64_t bytes, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    KEEL_CHECK_LE(bytes, reserved_bytes) << "budget " << name << " released more than reserved";
    reserved_bytes -= bytes;
    auto it = by_label.find(what);
    KEEL_CHECK(it != by_label.end() && it->second >= bytes)
        << "budget " << name << ": label '" << what << "' released more than reserved";
    it->second -= bytes;
  }
};

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    release();
    ledger_ = std::move(other.ledger_);
    bytes_ = std::exchange(other.bytes_, 0);
    what_ = std::move(other.what_);
    other.ledger_.reset();
  }
  return *this;
}

void Reservation::release() {
  if (ledger_ == nullptr) return;
  ledger_->give_back(bytes_, what_);
  ledger_.reset();
  bytes_ = 0;
}

std::string BudgetSnapshot::to_string() const {
  std::string out = fmt::format("budget {}, {} reserved", format_bytes(limit_bytes),
                                format_bytes(reserved_bytes));
  if (!by_label.empty()) {
    out += " (";
    for (size_t i = 0; i < by_label.size(); ++i) {
      if (i > 0) out += ", ";
      out += fmt::format("{} {}", by_label[i].first, format_bytes(by_label[i].second));
    }
    out += ")";
  }
  out += fmt::format(", {} free", format_bytes(free_bytes()));
  return out;
}

namespace {

// The core fault point a reservation label maps to, if any.
std::optional<fault::Point> fault_point_for(std::string_view what) {
  if (what.starts_with("KV pool")) return fault::Point::kKvPoolAlloc;
  if (what.starts_with("workspace")) return fault::Point::kWorkspaceAlloc;
  if (what.starts_with("weights")) return fault::Point::kWeightsAlloc;
  return std::nullopt;
}

}  // namespace

MemoryBudget::MemoryBudget(uint64_t limit_bytes, std::string name)
    : ledger_(std::make_shared<Reservation::Ledger>(limit_bytes, std::move(name))) {}

Result<Reservation> MemoryBudget::reserve(uint64_t bytes, std::string_view what) {
  std::shared_ptr<FaultInjector> injector;
  {
    std::lock_guard<std::mutex> lock(ledger_->mu);
    injector = ledger_->injector;
  }
  // Consulted outside the lock so an injector may itself inspect the budget.
  if (injector != nullptr) KEEL_RETURN_IF_ERROR(injector->before_reserve(what, bytes));
  if (fault::any_armed()) {
    if (std::optional<fault::Point> point = fault_point_for(what)) {
      Status s = fault::check(*point, {.rank = ledger_->rank.load(std::memory_order_relaxed)});
      if (!s.ok()) {
        return Status(s.code(), fmt::format("{} needs {}: {}", what, format_bytes(bytes),
                                            s.message()));
      }
    }
  }

  std::lock_guard<std::mutex> lock(ledger_->mu);
  uint64_t free = ledger_->limit_bytes - ledger_->reserved_bytes;
  if (bytes > free) {
    ++ledger_->num_refused;
    return ResourceExhaustedError("{} needs {}; {}", what, format_bytes(bytes),
                                  ledger_->snapshot_locked().to_string());
  }
  ledger_->reserved_bytes += bytes;
  ledger_->peak_reserved_bytes = std::max(ledger_->peak_reserved_bytes, ledger_->reserved_bytes);
  auto it = ledger_->by_label.find(what);
  if (it == ledger_->by_label.end()) it = ledger_->by_label.emplace(std::string(what), 0).first;
  it->second += bytes;
  return Reservation(ledger_, bytes, std::string(what));
}

uint64_t MemoryBudget::limit_bytes() const { return ledger_->limit_bytes; }

uint64_t MemoryBudget::reserved_bytes() const {
  std::lock_guard<std::mutex> lock(ledger_->mu);
  return ledger_->reserved_bytes;
}

uint64_t MemoryBudget::free_bytes() const {
  std::lock_guard<std::mutex> lock(ledger_->mu);
  return ledger_->limit_bytes - ledger_->reserved_bytes;
}

BudgetSnapshot MemoryBudget::snapshot() const {
  std::lock_guard<std::mutex> lock(ledger_->mu);
  return ledger_->snapshot_locked();
}

void MemoryBudget::set_fault_injector(std::shared_ptr<FaultInjector> injector) {
  std::lock_guard<std::mutex> lock(ledger_->mu);
  ledger_->injector = std::move(injector);
}

void MemoryBudget::set_rank(int rank) { ledger_->rank.store(rank, std::memory_order_relaxed); }

int MemoryBudget::rank() const { return ledger_->rank.load(std::memory_order_relaxed); }

}  // namespace keel::memory
