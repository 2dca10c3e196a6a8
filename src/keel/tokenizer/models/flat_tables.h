// Flat open-addressing hash tables for the models' hot paths.
//
// StringIdMap: byte string → uint32 value. Keys live in one arena; a slot
// holds a 32-bit hash tag and an entry index, so a probe touches one cache
// line for the slot and one for the key bytes.
// PairMap: (left id, right id) → (rank, merged id), keyed by one uint64.
// Both are built once and then only read (thread-safe for concurrent reads).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/huge_pages.h"
#include "keel/core/prefetch.h"

namespace keel::tokenizer::models_internal {

inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

// Tables are at most 5/8 full: linear probing then stays within about one
// cache line (4 to 8 slots) even for a missing key, and a large vocabulary's
// table is a quarter smaller than at 1/2, which matters more: its probes
// are random and miss the caches.
inline bool over_full(size_t entries, size_t slots) { return entries * 8 > slots * 5; }

inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xc4ceb9fe1a85ec53ULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    // The 1-7 tail bytes in fixed-size loads (a variable-length memcpy is a
    // libc call): both ends of the tail overlap, which with the length mixed
    // in above still determines every byte.
    uint64_t w;
    if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      w = (uint64_t{b} << 32) | a;
    } else {
      const auto* u = reinterpret_cast<const unsigned char*>(p);
      w = uint64_t{u[0]} | (uint64_t{u[n / 2]} << 8) | (uint64_t{u[n - 1]} << 16);
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
  }
  return mix64(h);
}

class StringIdMap {
 public:
  // Sizes the table for `n` entries so that building does not rehash.
  void reserve(size_t n, size_t key_bytes) {
    entries_.reserve(n);
    arena_.reserve(key_bytes);
    size_t cap = 64;
    while (over_full(n, cap)) cap *= 2;
    if (cap > slots_.size()) grow_to(cap);
  }

  // Inserts `key` → `value`; if the key exists its value is replaced.
  void insert(std::string_view key, uint32_t value) {
    if (over_full(entries_.size() + 1, slots_.size())) grow();
    const uint64_t h = hash_bytes(key.data(), key.size());
    if (const size_t i = find_index(key, h); i != kNotFound) {
      slots_[i].value = value;
      entries_[slots_[i].entry].value = value;
      return;
    }
    const auto entry = static_cast<uint32_t>(entries_.size());
    entries_.push_back(Entry{static_cast<uint32_t>(arena_.size()),
                             static_cast<uint32_t>(key.size()), value});
    arena_.append(key);
    place(entry, h);
  }

  std::optional<uint32_t> find(std::string_view key) const {
    return find_hashed(key, hash_bytes(key.data(), key.size()));
  }
  // `h` must be hash_bytes(key).
  std::optional<uint32_t> find_hashed(std::string_view key, uint64_t h) const {
    const size_t i = find_index(key, h);
    if (i == kNotFound) return std::nullopt;
    return slots_[i].value;
  }

  // Starts loading the slot where a probe for hash `h` begins.
  void prefetch(uint64_t h) const {
    if (!slots_.empty()) keel::prefetch(&slots_[h & mask_]);
  }

  size_t size() const { return entries_.size(); }
  std::string_view key_at(size_t entry) const { return key_of(static_cast<uint32_t>(entry)); }
  uint32_t value_at(size_t entry) const { return entries_[entry].value; }
  void set_value_at(size_t entry, uint32_t value) { insert(key_at(entry), value); }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  // A slot holds the key's first 8 bytes, so short keys (most tokens) are
  // matched without touching the arena: one cache line per probe.
  struct Slot {
    uint64_t head = 0;
    uint32_t tag = 0;
    uint32_t value = 0;
    uint32_t length = kEmpty;  // kEmpty: free slot
    uint32_t entry = 0;
  };
  struct Entry {
    uint32_t offset, length, value;
  };

  static uint64_t head_of(std::string_view key) {
    uint64_t head = 0;
    std::memcpy(&head, key.data(), key.size() < 8 ? key.size() : 8);
    return head;
  }

  std::string_view key_of(uint32_t entry) const {
    const Entry& e = entries_[entry];
    return std::string_view(arena_).substr(e.offset, e.length);
  }

  static constexpr size_t kNotFound = SIZE_MAX;

  size_t find_index(std::string_view key, uint64_t h) const {
    if (slots_.empty()) return kNotFound;
    const auto tag = static_cast<uint32_t>(h >> 32);
    const uint64_t head = head_of(key);
    size_t i = h & mask_;
    while (slots_[i].length != kEmpty) {
      const Slot& s = slots_[i];
      if (s.tag == tag && s.length == key.size() && s.head == head &&
          (key.size() <= 8 || std::memcmp(arena_.data() + entries_[s.entry].offset + 8,
                                          key.data() + 8, key.size() - 8) == 0)) {
        return i;
      }
      i = (i + 1) & mask_;
    }
    return kNotFound;
  }

  void place(uint32_t entry, uint64_t h) {
    const std::string_view k = key_of(entry);
    size_t i = h & mask_;
    while (slots_[i].length != kEmpty) i = (i + 1) & mask_;
    slots_[i] = Slot{head_of(k), static_cast<uint32_t>(h >> 32), entries_[entry].value,
                     static_cast<uint32_t>(k.size()), entry};
  }

  void grow() { grow_to(slots_.empty() ? 64 : slots_.size() * 2); }

  void grow_to(size_t cap) {
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (uint32_t e = 0; e < entries_.size(); ++e) {
      const std::string_view k = key_of(e);
      place(e, hash_bytes(k.data(), k.size()));
    }
  }

  std::vector<Slot, HugePageAllocator<Slot>> slots_;  // probed at random: huge pages
  std::vector<Entry> entries_;
  std::string arena_;
  size_t mask_ = 0;
};

struct MergeInfo {
  uint32_t rank;
  uint32_t merged_id;
};

class PairMap {
 public:
  static uint64_t key(uint32_t left, uint32_t right) {
    return (static_cast<uint64_t>(left) << 32) | right;
  }

  void reserve(size_t n) {
    size_t cap = 64;
    while (over_full(n, cap)) cap *= 2;
    if (cap > slots_.size()) grow_to(cap);
  }

  // Inserts or replaces (a later merge of the same pair wins, as in HF).
  void insert(uint32_t left, uint32_t right, MergeInfo info) {
    if (over_full(count_ + 1, slots_.size())) grow();
    place(key(left, right), info, /*replace=*/true);
  }

  // Starts loading the slot where a probe for the pair begins.
  void prefetch(uint32_t left, uint32_t right) const {
    keel::prefetch(&slots_[mix64(key(left, right)) & mask_]);
  }

  // nullptr when the pair has no merge.
  const MergeInfo* find(uint32_t left, uint32_t right) const {
    const uint64_t k = key(left, right);
    size_t i = mix64(k) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == k) return &s.info;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  struct Slot {
    uint64_t key = kEmpty;
    MergeInfo info{0, 0};
  };

  void place(uint64_t k, MergeInfo info, bool replace) {
    size_t i = mix64(k) & mask_;
    while (slots_[i].key != kEmpty) {
      if (slots_[i].key == k) {
        if (replace) slots_[i].info = info;
        return;
      }
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{k, info};
    ++count_;
  }

  void grow() { grow_to(slots_.size() * 2); }

  void grow_to(size_t cap) {
    std::vector<Slot, HugePageAllocator<Slot>> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    count_ = 0;
    for (const Slot& s : old) {
      if (s.key != kEmpty) place(s.key, s.info, false);
    }
  }

  // Never empty after construction, so find() needs no emptiness check.
  std::vector<Slot, HugePageAllocator<Slot>> slots_ =
      std::vector<Slot, HugePageAllocator<Slot>>(64);
  size_t mask_ = 63;
  size_t count_ = 0;
};

}  // namespace keel::tokenizer::models_internal
