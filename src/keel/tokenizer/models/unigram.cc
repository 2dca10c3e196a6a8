// Unigram model: see unigram.h. Mirrors HF's Unigram::encode_optimized
// (a forward Viterbi pass over byte positions, visiting matches in trie order)
// and Unigram::tokenize (string → id lookup with byte fallback).
#include "keel/tokenizer/models/unigram.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "keel/core/utf8.h"
#include "keel/tokenizer/models/flat_tables.h"
#include "keel/tokenizer/models/piece_cache.h"
#include "keel/tokenizer/models/unigram_trie.h"

namespace keel::tokenizer {
namespace {

constexpr double kUnkPenalty = 10.0;  // HF's K_UNK_PENALTY
constexpr uint32_t kNoId = UINT32_MAX;

struct BestPath {
  double score = 0.0;
  int64_t starts_at = -1;  // -1: no path ends here yet
  uint32_t id = 0;
};

struct Segment {
  uint32_t begin, end, id;
};

struct UnigramScratch {
  std::vector<BestPath> best;
  std::vector<Segment> segments;
  std::string fused;
};

UnigramScratch& scratch() {
  static thread_local UnigramScratch s;
  return s;
}

class UnigramModel final : public Model {
 public:
  explicit UnigramModel(UnigramConfig config)
      : pieces_(std::move(config.pieces)),
        unk_id_(config.unk_id),
        byte_fallback_(config.byte_fallback) {
    std::vector<std::pair<std::string_view, uint32_t>> keys;
    keys.reserve(pieces_.size());
    min_score_ = std::numeric_limits<double>::infinity();
    for (uint32_t id = 0; id < pieces_.size(); ++id) {
      ids_.insert(pieces_[id].first, id);  // a later duplicate wins, as in HF
      min_score_ = std::min(min_score_, pieces_[id].second);
    }
    for (size_t e = 0; e < ids_.size(); ++e) keys.emplace_back(ids_.key_at(e), ids_.value_at(e));
    trie_.build(std::move(keys));
    for (int b = 0; b < 256; ++b) {
      const auto id = ids_.find(fmt::format("<0x{:02X}>", b));
      byte_ids_[b] = id ? *id : kNoId;
    }
  }

  Status tokenize(std::string_view piece, std::vector<uint32_t>& ids) const override;
  // HF: each token covers its segment; the byte-fallback tokens of an
  // unknown segment all cover the whole segment.
  Status tokenize_with_offsets(std::string_view piece, std::vector<uint32_t>& ids,
                               std::vector<TokenRange>& ranges) const override {
    if (piece.empty()) return OkStatus();
    UnigramScratch& sc = scratch();
    KEEL_RETURN_IF_ERROR(viterbi(piece, sc));
    for (const Segment& seg : sc.segments) {
      const size_t first = ids.size();
      if (seg.id != kNoId) {
        ids.push_back(seg.id);
      } else {
        KEEL_RETURN_IF_ERROR(emit(piece.substr(seg.begin, seg.end - seg.begin), ids));
      }
      ranges.insert(ranges.end(), ids.size() - first, TokenRange{seg.begin, seg.end});
    }
    return OkStatus();
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return ids_.find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    if (id >= pieces_.size()) return std::nullopt;
    return std::string_view(pieces_[id].first);
  }
  size_t vocab_size() const override { return pieces_.size(); }

 private:
  Status tokenize_uncached(std::string_view piece, std::vector<uint32_t>& ids) const;
  Status viterbi(std::string_view s, UnigramScratch& sc) const;
  Status emit(std::string_view text, std::vector<uint32_t>& ids) const;

  std::vector<std::pair<std::string, double>> pieces_;
  models_internal::StringIdMap ids_;
  models_internal::UnigramTrie trie_;
  std::optional<uint32_t> unk_id_;
  bool byte_fallback_;
  double min_score_;
  uint32_t byte_ids_[256];
  const uint32_t cache_id_ = models_internal::PieceCache::next_model_id();
};

Status UnigramModel::viterbi(std::string_view s, UnigramScratch& sc) const {
  const size_t size = s.size();
  const double unk_score = min_score_ - kUnkPenalty;
  sc.best.assign(size + 1, BestPath{});
  auto relax = [&](size_t from, size_t to, double score, uint32_t id) {
    BestPath& t = sc.best[to];
    const double candidate = score + sc.best[from].score;
    if (t.starts_at < 0 || candidate > t.score) {
      t.score = candidate;
      t.starts_at = static_cast<int64_t>(from);
      t.id = id;
    }
  };
  for (size_t pos = 0; pos < size;) {
    const int l = utf8::sequence_length(static_cast<uint8_t>(s[pos]));
    const size_t mblen = (l == 0 || pos + static_cast<size_t>(l) > size) ? 1 : static_cast<size_t>(l);
    bool has_single = false;
    trie_.for_each_prefix(s.substr(pos), [&](size_t length, uint32_t id) {
      relax(pos, pos + length, pieces_[id].second, id);
      if (length == mblen) has_single = true;
    });
    if (!has_single) {
      BestPath& t = sc.best[pos + mblen];
      const double candidate = unk_score + sc.best[pos].score;
      if (t.starts_at < 0 || candidate > t.score) {
        if (!unk_id_) {
          return InvalidArgumentError(
              "Unigram: no piece covers \"{}\" and the model has no unk_id",
              s.substr(pos, mblen));
        }
        relax(pos, pos + mblen, unk_score, *unk_id_);
      }
    }
    pos += mblen;
  }
  // Backtrack; consecutive unk nodes are fused into one segment (HF fuse_unk).
  sc.segments.clear();
  for (size_t end = size; end > 0;) {
    const BestPath& node = sc.best[end];
    const auto begin = static_cast<size_t>(node.starts_at);
    const bool is_unk = unk_id_ && node.id == *unk_id_;
    if (is_unk && !sc.segments.empty() && sc.segments.back().id == kNoId) {
      sc.segments.back().begin = static_cast<uint32_t>(begin);
    } else {
      sc.segments.push_back(Segment{static_cast<uint32_t>(begin), static_cast<uint32_t>(end),
                                    is_unk ? kNoId : node.id});
    }
    end = begin;
  }
  std::reverse(sc.segments.begin(), sc.segments.end());
  return OkStatus();
}

Status UnigramModel::tokenize(std::string_view piece, std::vector<uint32_t>& ids) const {
  if (piece.empty()) return OkStatus();
  const uint64_t h = models_internal::hash_bytes(piece.data(), piece.size());
  auto& cache = models_internal::PieceCache::local();
  if (cache.lookup(cache_id_, h, piece, ids)) return OkStatus();
  const size_t first = ids.size();
  KEEL_RETURN_IF_ERROR(tokenize_uncached(piece, ids));
  cache.store(cache_id_, h, piece, ids.data() + first, ids.size() - first);
  return OkStatus();
}

Status UnigramModel::tokenize_uncached(std::string_view piece, std::vector<uint32_t>& ids) const {
  UnigramScratch& sc = scratch();
  KEEL_RETURN_IF_ERROR(viterbi(piece, sc));
  for (const Segment& seg : sc.segments) {
    if (seg.id != kNoId) {
      ids.push_back(seg.id);
      continue;
    }
    // An unk segment: HF looks its text up like any token string.
    const std::string_view text = piece.substr(seg.begin, seg.end - seg.begin);
    KEEL_RETURN_IF_ERROR(emit(text, ids));
  }
  return OkStatus();
}

Status UnigramModel::emit(std::string_view text, std::vector<uint32_t>& ids) const {
  if (const auto id = ids_.find(text)) {
    ids.push_back(*id);
    return OkStatus();
  }
  if (byte_fallback_) {
    bool all = true;
    for (char c : text) all = all && byte_ids_[static_cast<uint8_t>(c)] != kNoId;
    if (all) {
      for (char c : text) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
      return OkStatus();
    }
  }
  if (!unk_id_) {
    return InvalidArgumentError("Unigram: unknown text \"{}\" and the model has no unk_id", text);
  }
  ids.push_back(*unk_id_);
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<Model>> make_unigram(UnigramConfig config) {
  if (config.unk_id) {
    if (config.pieces.empty()) {
      return InvalidArgumentError("Unigram: the vocab is empty but unk_id is set");
    }
    if (*config.unk_id >= config.pieces.size()) {
      return InvalidArgumentError("Unigram: unk_id {} is out of range (vocab size {})",
                                  *config.unk_id, config.pieces.size());
    }
  }
  if (config.pieces.size() >= (size_t{1} << 31)) {
    return InvalidArgumentError("Unigram: vocab too large ({} pieces)", config.pieces.size());
  }
  return std::unique_ptr<Model>(std::make_unique<UnigramModel>(std::move(config)));
}

}  // namespace keel::tokenizer
