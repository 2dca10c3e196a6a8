// BpeModel's declaration, shared by bpe.cc (encoding) and bpe_load.cc
// (building the tables). Internal: use make_bpe / build_bpe.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "keel/tokenizer/models/bpe.h"
#include "keel/tokenizer/models/bpe_merge.h"
#include "keel/tokenizer/models/flat_tables.h"
#include "keel/tokenizer/models/piece_cache.h"
#include "keel/tokenizer/models/vocab_table.h"
#include "keel/tokenizer/pre_tokenizers/byte_level_alphabet.h"

namespace keel::tokenizer::models_internal {

constexpr uint32_t kNoId = UINT32_MAX;
// Set on an encode-map value when tokenizing the key yields exactly that id.
constexpr uint32_t kShortcutBit = 1u << 31;

// A piece deferred by BpeModel::tokenize_pieces, to be merged in a
// MergeBatch: its ids go at `at` in the output (an index before later
// pieces' ids).
struct DeferredPiece {
  std::string_view piece;
  uint64_t hash;
  size_t at;
};

class BpeModel final : public VocabModel {
 public:
  Status init(BpeConfig config, const std::string& path,
              const std::vector<size_t>& merge_json_index);

  Status tokenize(std::string_view piece, std::vector<uint32_t>& ids) const override {
    if (cuts_enabled_ && piece.size() >= kCutMinBytes) return tokenize_cut(piece, ids);
    return tokenize_one(piece, ids);
  }

  // Hashes each piece and prefetches its cache entry kAhead pieces before
  // tokenizing it; kCheck pieces before, when that entry does not look like a
  // hit, also prefetches the piece's encode-map slot (prefetching the map for
  // every piece, most of which hit the cache, spent memory bandwidth on
  // useless misses in a table of several MiB). Pieces that need merging are
  // deferred and merged MergeBatch::kMaxWords at a time (their lookups
  // overlap), then spliced into place.
  Status tokenize_pieces(const PieceList& pieces, std::vector<uint32_t>& ids) const override;

  Status tokenize_one(std::string_view piece, std::vector<uint32_t>& ids) const {
    if (piece.empty()) return OkStatus();
    return tokenize_hashed(models_internal::PieceCache::local(), piece,
                           models_internal::hash_bytes(piece.data(), piece.size()), ids);
  }

  // tokenize_one of a non-empty piece whose hash_bytes is `h`, with this
  // thread's cache.
  Status tokenize_hashed(models_internal::PieceCache& cache, std::string_view piece, uint64_t h,
                         std::vector<uint32_t>& ids) const {
    if (cache.lookup(cache_id_, h, piece, ids)) return OkStatus();
    const size_t first = ids.size();
    if (const auto v = encode_map_.find_hashed(piece, h); v && (*v & kShortcutBit)) {
      ids.push_back(*v & ~kShortcutBit);
    } else {
      KEEL_RETURN_IF_ERROR(tokenize_merging(piece, ids));
    }
    cache.store(cache_id_, h, piece, ids.data() + first, ids.size() - first);
    return OkStatus();
  }

  // HF's BPE token offsets: each symbol of HF's word has a length (a
  // character's bytes; 1 for each byte-fallback token; a fused unk the sum
  // of its characters), a merged symbol the sum of its parts, and tokens
  // take consecutive ranges in the word's order. In byte-level mode HF's
  // word is the alphabet string (1 or 2 bytes per raw byte), mapped back to
  // raw bytes here. Same ids as tokenize() (same shortcut and cuts).
  Status tokenize_with_offsets(std::string_view piece, std::vector<uint32_t>& ids,
                               std::vector<TokenRange>& ranges) const override {
    if (piece.empty()) return OkStatus();
    if (!(cuts_enabled_ && piece.size() >= kCutMinBytes)) {
      return tokenize_one_with_offsets(piece, 0, ids, ranges);
    }
    size_t start = 0;
    uint32_t prev = UINT32_MAX;
    for (size_t i = 0; i < piece.size();) {
      auto [sym, len] = next_symbol(piece, i);
      if (prev != UINT32_MAX && !pair_in_vocab(prev, sym)) {
        KEEL_RETURN_IF_ERROR(tokenize_one_with_offsets(piece.substr(start, i - start),
                                                       static_cast<uint32_t>(start), ids, ranges));
        start = i;
      }
      prev = sym;
      i += len;
    }
    return tokenize_one_with_offsets(piece.substr(start), static_cast<uint32_t>(start), ids,
                                     ranges);
  }

 private:
  // Long pieces (no pre-tokenizer, e.g. Mistral/Llama-2 tokenizer.json) are
  // cut where no merge can ever cross: between two symbols whose
  // concatenation occurs in no vocabulary entry. Every merged symbol is a
  // vocabulary entry, so no symbol can span such a point and each part can be
  // tokenized (and cached) on its own with identical results.
  static constexpr size_t kCutMinBytes = 48;
  // Kept out of line so that tokenize(), hot on short pieces, stays a thin
  // dispatch to tokenize_one().
  [[gnu::noinline]] Status tokenize_cut(std::string_view piece, std::vector<uint32_t>& ids) const;
  void build_cut_pairs();
  // The next symbol's code (byte in byte-level mode, else code point or
  // the raw byte of an ill-formed sequence) and its length.
  std::pair<uint32_t, size_t> next_symbol(std::string_view s, size_t i) const;
  // flatten: the set lookup stays inlined in the cut loop.
  [[gnu::flatten]] bool pair_in_vocab(uint32_t a, uint32_t b) const {
    if (a < 128 && b < 128) return ascii_pair_bits_[a][b];
    return other_pairs_.contains((uint64_t{a} << 32) | b);
  }

  // Merges the deferred pieces, inserts their ids and caches them.
  void flush_deferred(models_internal::PieceCache& cache, std::vector<DeferredPiece>& deferred,
                      models_internal::MergeBatch& batch, std::vector<uint32_t>& ids) const;

  // Tokenizes without the whole-piece shortcut.
  Status tokenize_merging(std::string_view piece, std::vector<uint32_t>& ids) const;
  // tokenize_one with token ranges (shifted by `base`), uncached.
  Status tokenize_one_with_offsets(std::string_view piece, uint32_t base,
                                   std::vector<uint32_t>& ids,
                                   std::vector<TokenRange>& ranges) const;
  // The initial symbols of HF's word; with kLens also their lengths in it.
  template <bool kLens>
  Status initial_symbols(std::string_view piece, std::vector<uint32_t>& out,
                         std::vector<uint32_t>* lens) const;
  template <bool kLens>
  Status initial_symbols_affixed(std::string_view piece, std::vector<uint32_t>& out,
                                 std::vector<uint32_t>* lens) const;
  // Length in HF's word of the symbol `sym` (encode form).
  uint32_t hf_length(std::string_view sym) const {
    if (!byte_level_raw_) return static_cast<uint32_t>(sym.size());
    uint32_t n = 0;
    for (char c : sym) n += byte_level::byte_to_char(static_cast<uint8_t>(c)) < 0x80 ? 1 : 2;
    return n;
  }

  // HF's handling of one initial symbol. `hf_form` is the symbol as HF sees it
  // (tokenizer.json alphabet, affixes included); only needed when unknown.
  // `len` is the symbol's length in HF's word (kLens only).
  struct UnkState {
    uint32_t pending = kNoId;
    uint32_t pending_len = 0;
  };
  template <bool kLens>
  Status add_unknown(std::string_view hf_form, uint32_t len, UnkState& st,
                     std::vector<uint32_t>& out, std::vector<uint32_t>* lens) const;
  template <bool kLens>
  static void add_known(uint32_t id, uint32_t len, UnkState& st, std::vector<uint32_t>& out,
                        std::vector<uint32_t>* lens) {
    if (st.pending != kNoId) {
      out.push_back(st.pending);
      if constexpr (kLens) lens->push_back(st.pending_len);
      st.pending = kNoId;
    }
    out.push_back(id);
    if constexpr (kLens) lens->push_back(len);
  }
  // HF form of the symbol `sym` (encode form) at the given position.
  std::string hf_form(std::string_view sym, bool first, bool last) const;

  StringIdMap encode_map_;  // encode form (raw bytes in byte-level mode) → id | kShortcutBit
  PairMap merges_;
  uint32_t single_byte_ids_[256];    // encode-form one-byte symbols
  uint32_t byte_fallback_ids_[256];  // "<0xAB>" tokens
  std::optional<std::string> unk_token_;
  uint32_t unk_id_ = kNoId;
  bool byte_fallback_ = false, fuse_unk_ = false, byte_level_raw_ = false;
  std::string prefix_, suffix_;          // tokenizer.json form
  std::string prefix_enc_, suffix_enc_;  // encode form
  const uint32_t cache_id_ = models_internal::PieceCache::next_model_id();
  bool cuts_enabled_ = false;
  std::bitset<128> ascii_pair_bits_[128];
  std::unordered_set<uint64_t> other_pairs_;
};

}  // namespace keel::tokenizer::models_internal
