// PieceCache: a small per-thread memo of recent pieces → ids.
//
// Real text repeats its words, and a hit here touches one 64-byte line
// instead of the model's large hash tables. Direct-mapped on the piece's
// 64-bit hash; an entry stores its key inline, so only short pieces with few
// ids are cached. Entries carry the owning model's unique id, so one thread's
// cache serves many models without mixing them up. Each thread has its own
// cache (thread_local), so there is no sharing and no locking.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace keel::tokenizer::models_internal {

class PieceCache {
 public:
  static constexpr size_t kMaxKeyBytes = 26;
  static constexpr size_t kMaxIds = 6;

  // A process-unique id for a model instance (never 0).
  static uint32_t next_model_id() {
    static std::atomic<uint32_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  static PieceCache& local() {
    static thread_local PieceCache cache;
    return cache;
  }

  // Appends the cached ids to `out` and returns true on a hit.
  bool lookup(uint32_t model, uint64_t hash, std::string_view key,
              std::vector<uint32_t>& out) const {
    const Entry& e = entries_[hash & (kNumEntries - 1)];
    if (e.hash != hash || e.model != model || e.key_len != key.size() ||
        std::memcmp(e.key, key.data(), key.size()) != 0) {
      return false;
    }
    out.insert(out.end(), e.ids, e.ids + e.num_ids);
    return true;
  }

  void store(uint32_t model, uint64_t hash, std::string_view key, const uint32_t* ids,
             size_t num_ids) {
    if (key.size() > kMaxKeyBytes || num_ids > kMaxIds) return;
    Entry& e = entries_[hash & (kNumEntries - 1)];
    e.hash = hash;
    e.model = model;
    e.key_len = static_cast<uint8_t>(key.size());
    e.num_ids = static_cast<uint8_t>(num_ids);
    std::memcpy(e.key, key.data(), key.size());
    std::memcpy(e.ids, ids, num_ids * sizeof(uint32_t));
  }

 private:
  static constexpr size_t kNumEntries = 4096;  // 256 KiB per thread
  struct Entry {
    uint64_t hash = 0;
    uint32_t model = 0;  // 0: empty
    uint8_t key_len = 0;
    uint8_t num_ids = 0;
    char key[kMaxKeyBytes];
    uint32_t ids[kMaxIds];
  };
  static_assert(sizeof(Entry) == 64);
  std::array<Entry, kNumEntries> entries_{};
};

}  // namespace keel::tokenizer::models_internal
