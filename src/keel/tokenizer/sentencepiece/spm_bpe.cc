#include <algorithm>
#include <array>
#include <bitset>
#include <functional>
#include <unordered_map>

#include "keel/tokenizer/models/bpe_merge.h"
#include "keel/tokenizer/models/flat_tables.h"
#include "keel/tokenizer/models/piece_cache.h"
#include "keel/tokenizer/sentencepiece/spm_models.h"

namespace keel::tokenizer::spm {
namespace {

using PieceCache = models_internal::LongPieceCache;
using RevMerge = std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;

// The bytes of one character (as one_char_len splits) packed into 32 bits;
// an ASCII character is its byte, anything else is >= 0x80.
uint32_t pack_char(std::string_view c) {
  uint32_t v = 0;
  for (char b : c) v = (v << 8) | static_cast<uint8_t>(b);
  return v;
}

// Contract: see spm_models.h (BPE).
//
// Speed
// - Cutting: a merge joins adjacent symbols into a matchable piece, so no
//   merge can ever cross a boundary between two characters that are adjacent
//   in no matchable piece. Text is cut at such boundaries ("chunks", in
//   practice about one word each) and each chunk is merged on its own; the
//   result is identical and the agenda stays small.
// - A chunk's ids therefore depend on the chunk alone. tokenize() takes a
//   one-byte chunk's id from a table; a longer chunk is looked up in the
//   per-thread LongPieceCache (keys up to 66 bytes: indentation runs of
//   "▁" belong to the next word's chunk; only chunks without unknown pieces
//   are stored, so a hit leaves no unk run open), then in pieces_, whose
//   values carry kShortcutBit for pieces that merging alone rebuilds
//   (checked at load: most words of real text are such pieces).
// - A cache miss merges by ids (merge_ids): every matchable piece P = A + B
//   whose parts can be symbols (a matchable piece, or one character, which
//   gets a made-up id when it is no piece itself) is one entry
//   (id A, id B) -> (rank, id P) of a PairMap, where rank orders the scores
//   (highest first, equal scores equal ranks). libsentencepiece's agenda
//   (highest score, then leftmost) is then exactly models/bpe_merge.h's
//   contract (lowest rank, then leftmost), which runs it without strings,
//   heap allocation or hashing of text. Not with USER_DEFINED pieces
//   (frozen symbols) or NaN scores: merge_chunk, on strings, does those.
// - With UNUSED pieces (whose split-back map spans the whole text) all of
//   this is bypassed for the plain path: segment() then emit(), uncached.
class SpmBpe final : public SpmModelBase {
 public:
  explicit SpmBpe(std::shared_ptr<const SpmVocab> vocab) : SpmModelBase(std::move(vocab)) {
    for (uint32_t id = 0; id < vocab_->size(); ++id) {
      if (vocab_->type(id) == PieceType::kUnused) has_unused_ = true;
    }
    size_t key_bytes = 0;
    for (const auto& [piece, id] : vocab_->matchable()) key_bytes += piece.size();
    pieces_.reserve(vocab_->matchable().size(), key_bytes);
    for (const auto& [piece, id] : vocab_->matchable()) {
      pieces_.insert(piece, id);
      uint32_t prev = kNoChar;
      for (size_t pos = 0; pos < piece.size();) {
        const size_t len = std::min(one_char_len(piece[pos]), piece.size() - pos);
        const uint32_t cur = pack_char(std::string_view(piece).substr(pos, len));
        if (prev != kNoChar) {
          if (prev < 128 && cur < 128) {
            ascii_pairs_[prev][cur] = true;
          } else {
            other_pairs_.insert(prev, cur, models_internal::MergeInfo{0, 0});
          }
        }
        prev = cur;
        pos += len;
      }
    }
    for (int b = 0; b < 256; ++b) {
      const char c = static_cast<char>(b);
      single_byte_ids_[b] = vocab_->id_of(std::string_view(&c, 1));
    }
    bool nan_score = false;
    for (const auto& [piece, id] : vocab_->matchable()) {
      nan_score = nan_score || vocab_->score(id) != vocab_->score(id);
    }
    id_merges_ = !vocab_->has_user_defined() && !nan_score;
    if (id_merges_) build_id_merges();
  }

  Status tokenize(std::string_view text, std::vector<uint32_t>& ids) const override {
    if (text.empty()) return OkStatus();
    if (has_unused_) return SpmModelBase::tokenize(text, ids);
    bool prev_unk = false;
    size_t chunk = 0;
    uint32_t prev = kNoChar;
    for (size_t pos = 0; pos < text.size();) {
      const auto [cur, len] = next_char(text, pos);
      if (prev != kNoChar && !adjacent_in_vocab(prev, cur)) {
        encode_chunk(text.substr(chunk, pos - chunk), ids, prev_unk);
        chunk = pos;
      }
      prev = cur;
      pos += len;
    }
    encode_chunk(text.substr(chunk), ids, prev_unk);
    return OkStatus();
  }

 private:
  static constexpr uint32_t kNoChar = UINT32_MAX;
  // Set on a pieces_ value when merging the piece alone yields exactly it.
  static constexpr uint32_t kShortcutBit = 1u << 31;

  // The packed character at `pos` and its length in `text`.
  static std::pair<uint32_t, size_t> next_char(std::string_view text, size_t pos) {
    const auto b = static_cast<uint8_t>(text[pos]);
    if (b < 0x80) return {b, 1};
    const size_t len = std::min(one_char_len(text[pos]), text.size() - pos);
    return {pack_char(text.substr(pos, len)), len};
  }

  // False only if no matchable piece holds the characters `a` then `b`
  // (true for a pair colliding with the table's empty key: never cutting is
  // always exact).
  bool adjacent_in_vocab(uint32_t a, uint32_t b) const {
    if (a < 128 && b < 128) return ascii_pairs_[a][b];
    return other_pairs_.find(a, b) != nullptr;
  }

  // The ids of one chunk, as emit() would produce them after the chunks
  // before it; `prev_unk` carries the unk-run state across chunks.
  void encode_chunk(std::string_view chunk, std::vector<uint32_t>& ids, bool& prev_unk) const {
    if (chunk.size() == 1) {
      const auto b = static_cast<uint8_t>(chunk[0]);
      emit_one(Segment{chunk, single_byte_ids_[b]}, ids, prev_unk);
      return;
    }
    const uint64_t h = models_internal::hash_bytes(chunk.data(), chunk.size());
    const bool cacheable = chunk.size() <= PieceCache::kMaxKeyBytes;
    if (cacheable && PieceCache::local().lookup(cache_id_, h, chunk, ids)) {
      prev_unk = false;
      return;
    }
    if (id_merges_) {
      if (const auto v = pieces_.find_hashed(chunk, h); v && (*v & kShortcutBit)) {
        ids.push_back(*v & ~kShortcutBit);
        prev_unk = false;
        return;
      }
    }
    const size_t first = ids.size();
    bool any_unk = false;
    if (id_merges_) {
      any_unk = merge_ids(chunk, ids, prev_unk);
    } else {
      thread_local std::vector<Segment> segments;
      segments.clear();
      RevMerge unused_splits;  // stays empty: no UNUSED pieces on this path
      merge_chunk(chunk, unused_splits, segments);
      for (const Segment& s : segments) {
        any_unk = any_unk || s.id == vocab_->unk_id();
        emit_one(s, ids, prev_unk);
      }
    }
    if (cacheable && !any_unk) {
      PieceCache::local().store(cache_id_, h, chunk, ids.data() + first, ids.size() - first);
    }
  }

  // The id of the one-character symbol `c`: its piece's, a made-up one
  // (>= vocab size) if only longer pieces hold it, else unknown_char_id_.
  uint32_t char_id(std::string_view c) const {
    if (c.size() == 1 && static_cast<uint8_t>(c[0]) < 0x80) {
      return ascii_char_ids_[static_cast<uint8_t>(c[0])];
    }
    return char_ids_.find(c).value_or(unknown_char_id_);
  }

  void build_id_merges() {
    // Dense ranks of the scores, highest first.
    std::vector<float> scores;
    for (const auto& [piece, id] : vocab_->matchable()) scores.push_back(vocab_->score(id));
    std::sort(scores.begin(), scores.end(), std::greater<>());
    scores.erase(std::unique(scores.begin(), scores.end()), scores.end());
    auto rank_of = [&](float score) {
      return static_cast<uint32_t>(
          std::lower_bound(scores.begin(), scores.end(), score, std::greater<>()) -
          scores.begin());
    };
    auto vocab_size = static_cast<uint32_t>(vocab_->size());
    uint32_t next_id = vocab_size;
    piece_len_.assign(vocab_size, 0);
    for (const auto& [piece, id] : vocab_->matchable()) {
      piece_len_[id] = static_cast<uint32_t>(piece.size());
      for (size_t pos = 0; pos < piece.size();) {
        const size_t len = std::min(one_char_len(piece[pos]), piece.size() - pos);
        const std::string_view c = std::string_view(piece).substr(pos, len);
        if (!char_ids_.find(c)) char_ids_.insert(c, piece_id(c).value_or(next_id++));
        pos += len;
      }
    }
    unknown_char_id_ = next_id;
    for (uint8_t b = 0; b < 0x80; ++b) {
      const char c = static_cast<char>(b);
      ascii_char_ids_[b] = char_ids_.find(std::string_view(&c, 1)).value_or(unknown_char_id_);
    }
    std::vector<size_t> bounds;
    for (const auto& [piece, id] : vocab_->matchable()) {
      const std::string_view p = piece;
      bounds.clear();
      for (size_t pos = 0; pos < p.size();) {
        pos += std::min(one_char_len(p[pos]), p.size() - pos);
        bounds.push_back(pos);
      }
      // Split after each character but the last: A = p[0, cut), B = the rest.
      for (size_t k = 0; k + 1 < bounds.size(); ++k) {
        const std::string_view a = p.substr(0, bounds[k]), b = p.substr(bounds[k]);
        const auto ida = k == 0 ? char_ids_.find(a) : piece_id(a);
        const auto idb = k + 2 == bounds.size() ? char_ids_.find(b) : piece_id(b);
        if (ida && idb) {
          merges_.insert(*ida, *idb, models_internal::MergeInfo{rank_of(vocab_->score(id)), id});
        }
      }
    }
    // Whole-piece shortcut: a chunk equal to a piece whose own merges
    // rebuild exactly that piece needs no merging.
    std::vector<uint32_t> syms;
    models_internal::MergeScratch scratch;
    for (size_t e = 0; e < pieces_.size(); ++e) {
      const uint32_t id = pieces_.value_at(e);
      initial_ids(pieces_.key_at(e), syms);
      models_internal::apply_merges(merges_, syms, scratch);
      if (syms.size() == 1 && syms[0] == id) pieces_.set_value_at(e, id | kShortcutBit);
    }
  }

  // The one-character symbols of `chunk`, as ids.
  void initial_ids(std::string_view chunk, std::vector<uint32_t>& syms) const {
    syms.clear();
    for (size_t pos = 0; pos < chunk.size();) {
      const size_t len = std::min(one_char_len(chunk[pos]), chunk.size() - pos);
      syms.push_back(char_id(chunk.substr(pos, len)));
      pos += len;
    }
  }

  // Matchable piece → id.
  std::optional<uint32_t> piece_id(std::string_view piece) const {
    const auto v = pieces_.find(piece);
    if (!v) return std::nullopt;
    return *v & ~kShortcutBit;
  }

  // Merges `chunk` by ids and emits it; returns whether an unknown piece
  // was emitted.
  bool merge_ids(std::string_view chunk, std::vector<uint32_t>& ids, bool& prev_unk) const {
    thread_local std::vector<uint32_t> syms;
    thread_local models_internal::MergeScratch scratch;
    initial_ids(chunk, syms);
    models_internal::apply_merges(merges_, syms, scratch);
    bool any_unk = false;
    const auto vocab_size = static_cast<uint32_t>(vocab_->size());
    size_t pos = 0;
    for (uint32_t id : syms) {
      if (id < vocab_size) {
        ids.push_back(id);
        prev_unk = false;
        pos += piece_len_[id];
        continue;
      }
      // A character that is no piece: unknown (or, in theory, reserved).
      const size_t len = std::min(one_char_len(chunk[pos]), chunk.size() - pos);
      const std::string_view c = chunk.substr(pos, len);
      const uint32_t real = vocab_->id_of(c);
      any_unk = any_unk || real == vocab_->unk_id();
      emit_one(Segment{c, real}, ids, prev_unk);
      pos += len;
    }
    return any_unk;
  }

  // SpmVocab::emit for one segment.
  void emit_one(const Segment& s, std::vector<uint32_t>& ids, bool& prev_unk) const {
    const bool unk = s.id == vocab_->unk_id();
    if (!unk) {
      ids.push_back(s.id);
    } else if (vocab_->byte_fallback()) {
      for (char c : s.piece) ids.push_back(vocab_->byte_id(static_cast<uint8_t>(c)));
    } else if (!prev_unk) {
      ids.push_back(s.id);
    }
    prev_unk = unk;
  }

  // The segmentation of non-empty `text` into `segments` (in order, tiling
  // it): the general path (UNUSED pieces, offsets).
  void segment(std::string_view text, std::vector<Segment>& segments) const override {
    segments.clear();
    RevMerge rev_merge;
    size_t chunk = 0;
    uint32_t prev = kNoChar;
    for (size_t pos = 0; pos < text.size();) {
      const auto [cur, len] = next_char(text, pos);
      if (prev != kNoChar && !adjacent_in_vocab(prev, cur)) {
        merge_chunk(text.substr(chunk, pos - chunk), rev_merge, segments);
        chunk = pos;
      }
      prev = cur;
      pos += len;
    }
    merge_chunk(text.substr(chunk), rev_merge, segments);
  }

  // bpe_model.cc's Encode on one chunk; appends its segmentation.
  void merge_chunk(std::string_view text, RevMerge& rev_merge, std::vector<Segment>& out) const {
    // A symbol of the linked list; `id` is kNoId until a merge makes it a
    // matchable piece (initial characters are looked up only at the end).
    struct Symbol {
      int32_t prev;
      int32_t next;
      uint32_t begin;  // byte range in `text`; length 0 once merged away
      uint32_t length;
      uint32_t id;
      bool frozen;
    };
    // A candidate merge of symbols left and right (their lengths at push
    // time sum to `length`) into the piece `id` of score `score`.
    struct Pair {
      float score;
      int32_t left;
      int32_t right;
      uint32_t length;
      uint32_t id;
    };
    // The agenda order: highest score first, then leftmost.
    struct Lower {
      bool operator()(const Pair& a, const Pair& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
      }
    };
    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<Pair> heap;  // a max-heap under Lower
    symbols.clear();
    heap.clear();

    // Split into characters; a USER_DEFINED piece is one frozen symbol.
    for (size_t pos = 0; pos < text.size();) {
      size_t len = vocab_->has_user_defined() ? vocab_->user_defined_prefix(text.substr(pos)) : 0;
      const bool frozen = len > 0;
      if (!frozen) len = std::min(one_char_len(text[pos]), text.size() - pos);
      const auto index = static_cast<int32_t>(symbols.size());
      symbols.push_back(Symbol{index - 1, pos + len < text.size() ? index + 1 : -1,
                               static_cast<uint32_t>(pos), static_cast<uint32_t>(len), kNoId,
                               frozen});
      pos += len;
    }
    auto view = [&](int32_t i) {
      const Symbol& s = symbols[static_cast<size_t>(i)];
      return text.substr(s.begin, s.length);
    };
    auto maybe_add = [&](int32_t left, int32_t right) {
      if (left == -1 || right == -1) return;
      const Symbol& l = symbols[static_cast<size_t>(left)];
      const Symbol& r = symbols[static_cast<size_t>(right)];
      if (l.frozen || r.frozen) return;
      const std::string_view merged = text.substr(l.begin, l.length + r.length);
      const auto id = piece_id(merged);
      if (!id) return;
      heap.push_back(Pair{vocab_->score(*id), left, right,
                          static_cast<uint32_t>(merged.size()), *id});
      std::push_heap(heap.begin(), heap.end(), Lower{});
      if (has_unused_ && vocab_->type(*id) == PieceType::kUnused) {
        rev_merge[merged] = {view(left), view(right)};
      }
    };
    for (size_t i = 1; i < symbols.size(); ++i) {
      maybe_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
    }
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), Lower{});
      const Pair top = heap.back();
      heap.pop_back();
      Symbol& l = symbols[static_cast<size_t>(top.left)];
      Symbol& r = symbols[static_cast<size_t>(top.right)];
      // Stale: one side was merged away or has grown since the push.
      if (l.length == 0 || r.length == 0 || l.length + r.length != top.length) continue;
      l.length += r.length;
      l.id = top.id;
      l.next = r.next;
      if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = top.left;
      r.length = 0;
      maybe_add(l.prev, top.left);
      maybe_add(top.left, l.next);
    }
    for (int32_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
      const Symbol& s = symbols[static_cast<size_t>(i)];
      if (s.id == kNoId || has_unused_) {
        resegment(view(i), rev_merge, out);
      } else {
        out.push_back(Segment{view(i), s.id});
      }
    }
  }

  // An UNUSED piece is replaced by the two symbols it was merged from.
  void resegment(std::string_view piece, const RevMerge& rev_merge,
                 std::vector<Segment>& out) const {
    const uint32_t id = vocab_->id_of(piece);
    if (vocab_->type(id) == PieceType::kUnused) {
      if (const auto it = rev_merge.find(piece); it != rev_merge.end()) {
        resegment(it->second.first, rev_merge, out);
        resegment(it->second.second, rev_merge, out);
        return;
      }
    }
    out.push_back(Segment{piece, id});
  }

  static constexpr uint32_t kNoId = UINT32_MAX;

  bool has_unused_ = false;
  bool id_merges_ = false;  // merge_ids() applies (no USER_DEFINED pieces, no NaN score)
  // merge_ids() tables: symbol id pairs -> (rank, merged piece id); one-character
  // symbols' ids (ASCII ones also in a table); matchable pieces' byte lengths.
  models_internal::PairMap merges_;
  models_internal::StringIdMap char_ids_;
  std::array<uint32_t, 128> ascii_char_ids_{};
  uint32_t unknown_char_id_ = 0;
  std::vector<uint32_t> piece_len_;
  models_internal::StringIdMap pieces_;  // matchable piece → id | kShortcutBit if self-reachable
  std::bitset<128> ascii_pairs_[128];           // ASCII character pairs adjacent in a piece
  models_internal::PairMap other_pairs_;        // the other adjacent pairs (values unused)
  std::array<uint32_t, 256> single_byte_ids_;   // id_of each one-byte string
  const uint32_t cache_id_ = PieceCache::next_model_id();
};

}  // namespace

std::unique_ptr<Model> make_spm_bpe(std::shared_ptr<const SpmVocab> vocab) {
  return std::make_unique<SpmBpe>(std::move(vocab));
}

}  // namespace keel::tokenizer::spm
