// VocabTable: a model's tokenizer.json vocabulary, both ways.
//
// token → id through a flat hash map; id → token through an offset table
// over one arena, indexed by id while the ids are dense (real vocabularies
// number their tokens 0..n-1), else a table sorted by id and binary-searched,
// so memory stays proportional to the vocabulary: {"a": 2147483647} must not
// allocate 16 GiB (found by fuzz/tokenizer_json_fuzz). Ids need not be
// contiguous. When two strings share an id, id_to_token returns the first one
// added. Immutable after build; thread-safe for concurrent reads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/models/flat_tables.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer::models_internal {

class VocabTable {
 public:
  static constexpr uint32_t kMaxId = (1u << 31) - 1;

  // Errors name `path` (e.g. "$.model.vocab"): a duplicate token (only
  // possible from the C++ APIs) or an id above kMaxId.
  Status build(const std::vector<std::pair<std::string, uint32_t>>& vocab,
               const std::string& path) {
    uint32_t max_id = 0;
    size_t key_bytes = 0;
    for (const auto& entry : vocab) key_bytes += entry.first.size();
    map_.reserve(vocab.size(), key_bytes);
    arena_.reserve(key_bytes);
    for (const auto& [token, id] : vocab) {
      if (id > kMaxId) {
        return InvalidArgumentError("{}[\"{}\"]: id {} is too large (keel allows ids < 2^31)",
                                    path, token, id);
      }
      if (map_.find(token)) return InvalidArgumentError("{}: duplicate token \"{}\"", path, token);
      map_.insert(token, id);
      if (id > max_id) max_id = id;
    }
    offsets_.clear();
    lengths_.clear();
    sparse_.clear();
    if (vocab.empty()) return OkStatus();
    if (size_t{max_id} < kDenseFactor * vocab.size() + kDenseSlack) {
      offsets_.assign(size_t{max_id} + 1, kNone);
      lengths_.assign(offsets_.size(), 0);
      for (const auto& [token, id] : vocab) {
        if (offsets_[id] != kNone) continue;
        offsets_[id] = static_cast<uint32_t>(arena_.size());
        lengths_[id] = static_cast<uint32_t>(token.size());
        arena_.append(token);
      }
      return OkStatus();
    }
    sparse_.reserve(vocab.size());
    for (const auto& [token, id] : vocab) {
      sparse_.push_back(
          {id, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(token.size())});
      arena_.append(token);
    }
    // Stable: of the entries sharing an id, the first added stays first.
    std::stable_sort(sparse_.begin(), sparse_.end(),
                     [](const SparseEntry& a, const SparseEntry& b) { return a.id < b.id; });
    return OkStatus();
  }

  std::optional<uint32_t> find(std::string_view token) const { return map_.find(token); }
  std::optional<std::string_view> token(uint32_t id) const {
    if (!sparse_.empty()) {
      auto it = std::lower_bound(sparse_.begin(), sparse_.end(), id,
                                 [](const SparseEntry& e, uint32_t v) { return e.id < v; });
      if (it == sparse_.end() || it->id != id) return std::nullopt;
      return std::string_view(arena_).substr(it->offset, it->length);
    }
    if (id >= offsets_.size() || offsets_[id] == kNone) return std::nullopt;
    return std::string_view(arena_).substr(offsets_[id], lengths_[id]);
  }
  size_t size() const { return map_.size(); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  // Dense while the largest id is below kDenseFactor * size + kDenseSlack.
  static constexpr size_t kDenseFactor = 4;
  static constexpr size_t kDenseSlack = 4096;
  struct SparseEntry {
    uint32_t id, offset, length;
  };
  StringIdMap map_;
  std::vector<uint32_t> offsets_, lengths_;  // dense: indexed by id
  std::vector<SparseEntry> sparse_;          // sparse: sorted by id
  std::string arena_;
};

// A Model whose tokens are a VocabTable: the id <-> token lookups every such
// model answers the same way.
class VocabModel : public Model {
 public:
  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    return vocab_.token(id);
  }
  size_t vocab_size() const override { return vocab_.size(); }

 protected:
  VocabTable vocab_;
};

}  // namespace keel::tokenizer::models_internal
