// PieceCache: a small per-thread memo of recent pieces → ids.
//
// Real text repeats its words, and a hit here touches one cache line or two
// instead of the model's large hash tables (a miss costs a merge, ~2 us of
// lookups in a table of several MiB for Llama 3, so the cache is sized to
// keep a corpus's common words: on the 10 MB bench corpus (102k distinct
// pieces in 2.44M), one cold pass misses 7.8 % of pieces with 16384
// entries, 6.4 % with 32768 and 5.4 % with 65536; 32768 entries fill one
// 2 MiB huge page). Direct-mapped on the piece's
// 64-bit hash; an entry stores its key inline, so only pieces of at most
// kMaxKeyBytes with at most kMaxIds ids are cached. Entries carry the owning
// model's unique id, so one thread's cache serves many models without mixing
// them up. Each thread has its own cache (thread_local), so there is no
// sharing and no locking; a fork()ed child keeps a consistent copy.
//
// PieceCache (64-byte entries) suits pre-tokenized words; SentencePiece BPE,
// which cuts whole texts into chunks that include runs of spaces (code
// indentation), uses the wider LongPieceCache.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "keel/core/huge_pages.h"
#include "keel/core/prefetch.h"

namespace keel::tokenizer::models_internal {

// A process-unique id for a model instance (never 0), shared by all caches.
inline uint32_t next_piece_cache_model_id() {
  static std::atomic<uint32_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

template <size_t kKeyBytes, size_t kIds, size_t kEntries>
class BasicPieceCache {
 public:
  static constexpr size_t kMaxKeyBytes = kKeyBytes;
  static constexpr size_t kMaxIds = kIds;

  static uint32_t next_model_id() { return next_piece_cache_model_id(); }

  // This thread's cache, allocated on first use: only the pointer is in
  // static TLS, so threads that never tokenize pay nothing.
  // The cache is probed at random, so it lives on a huge page (one TLB
  // entry instead of 256).
  static BasicPieceCache& local() {
    struct Free {
      void operator()(BasicPieceCache* c) const {
        c->~BasicPieceCache();
        HugePageAllocator<BasicPieceCache>().deallocate(c, 1);
      }
    };
    thread_local std::unique_ptr<BasicPieceCache, Free> cache;
    if (cache == nullptr) [[unlikely]] {
      cache.reset(new (HugePageAllocator<BasicPieceCache>().allocate(1)) BasicPieceCache());
    }
    return *cache;
  }

  // Starts loading the entry for `hash` (lookups are memory-latency bound;
  // callers that know their next keys prefetch a few ahead).
  void prefetch(uint64_t hash) const { keel::prefetch(&entries_[hash & (kEntries - 1)]); }

  // Whether the entry for `hash` belongs to `model` and has that hash (a
  // hit, but for the key comparison): a cheap guess made after prefetch().
  bool may_hit(uint32_t model, uint64_t hash) const {
    const Entry& e = entries_[hash & (kEntries - 1)];
    return e.hash == hash && e.model == model;
  }

  // Appends the cached ids to `out` and returns true on a hit.
  bool lookup(uint32_t model, uint64_t hash, std::string_view key,
              std::vector<uint32_t>& out) const {
    const Entry& e = entries_[hash & (kEntries - 1)];
    if (e.hash != hash || e.model != model || e.key_len != key.size() ||
        std::memcmp(e.key, key.data(), key.size()) != 0) {
      return false;
    }
    if (e.num_ids == 1) {
      out.push_back(e.ids[0]);  // the common case, without a memmove call
    } else {
      out.insert(out.end(), e.ids, e.ids + e.num_ids);
    }
    return true;
  }

  void store(uint32_t model, uint64_t hash, std::string_view key, const uint32_t* ids,
             size_t num_ids) {
    if (key.size() > kKeyBytes || num_ids > kIds) return;
    Entry& e = entries_[hash & (kEntries - 1)];
    e.hash = hash;
    e.model = model;
    e.key_len = static_cast<uint8_t>(key.size());
    e.num_ids = static_cast<uint8_t>(num_ids);
    std::memcpy(e.key, key.data(), key.size());
    // A piece can tokenize to nothing (unknown symbols dropped without an
    // unk_token), and `ids` may then be an empty vector's null data().
    if (num_ids > 0) std::memcpy(e.ids, ids, num_ids * sizeof(uint32_t));
  }

 private:
  static_assert((kEntries & (kEntries - 1)) == 0 && kKeyBytes < 256 && kIds < 256);
  struct alignas(64) Entry {
    uint64_t hash = 0;
    uint32_t model = 0;  // 0: empty
    uint8_t key_len = 0;
    uint8_t num_ids = 0;
    char key[kKeyBytes];
    uint32_t ids[kIds];
  };
  static_assert(sizeof(Entry) % 64 == 0, "entries fill whole cache lines");
  std::array<Entry, kEntries> entries_{};
};

using PieceCache = BasicPieceCache<26, 6, 32768>;      // 2 MiB per thread: one huge page
using LongPieceCache = BasicPieceCache<66, 12, 4096>;  // 512 KiB per thread

}  // namespace keel::tokenizer::models_internal
