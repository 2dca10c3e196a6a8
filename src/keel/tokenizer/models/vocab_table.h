// VocabTable: a model's tokenizer.json vocabulary, both ways.
//
// token → id through a flat hash map; id → token through an offset table
// over one arena. Ids need not be contiguous. When two strings share an id,
// id_to_token returns the first one added. Immutable after build; thread-safe
// for concurrent reads.
#pragma once

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
    offsets_.assign(vocab.empty() ? 0 : size_t{max_id} + 1, kNone);
    lengths_.assign(offsets_.size(), 0);
    for (const auto& [token, id] : vocab) {
      if (offsets_[id] != kNone) continue;
      offsets_[id] = static_cast<uint32_t>(arena_.size());
      lengths_[id] = static_cast<uint32_t>(token.size());
      arena_.append(token);
    }
    return OkStatus();
  }

  std::optional<uint32_t> find(std::string_view token) const { return map_.find(token); }
  std::optional<std::string_view> token(uint32_t id) const {
    if (id >= offsets_.size() || offsets_[id] == kNone) return std::nullopt;
    return std::string_view(arena_).substr(offsets_[id], lengths_[id]);
  }
  size_t size() const { return map_.size(); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  StringIdMap map_;
  std::vector<uint32_t> offsets_, lengths_;
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
