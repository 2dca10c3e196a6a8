// BPE model: see bpe.h for the semantics. The merge loop is bpe_merge.h.
#include "keel/tokenizer/models/bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <unordered_set>

#include "keel/core/utf8.h"
#include "keel/tokenizer/models/bpe_internal.h"
#include "keel/tokenizer/models/bpe_merge.h"
#include "keel/tokenizer/models/flat_tables.h"
#include "keel/tokenizer/models/piece_cache.h"
#include "keel/tokenizer/models/vocab_table.h"
#include "keel/tokenizer/pre_tokenizers/byte_level_alphabet.h"

namespace keel::tokenizer {
namespace {

using models_internal::MergeInfo;
using models_internal::PairMap;
using models_internal::StringIdMap;

constexpr uint32_t kNoId = UINT32_MAX;
// Set on an encode-map value when tokenizing the key yields exactly that id.
constexpr uint32_t kShortcutBit = 1u << 31;

// Raw bytes of a GPT-2 alphabet string, or nullopt if a character is outside
// the alphabet (or the string is not valid UTF-8).
std::optional<std::string> alphabet_to_raw(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const utf8::Decoded d = utf8::decode(s, i);
    if (!d.valid) return std::nullopt;
    const auto b = byte_level::char_to_byte(d.code_point);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
    i += d.length;
  }
  return out;
}

std::string raw_to_alphabet(std::string_view raw) {
  std::string out;
  char buf[2];
  for (char c : raw) {
    const int n = byte_level::byte_to_utf8(static_cast<uint8_t>(c), buf);
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Per-thread scratch, reused across calls so tokenize() does not allocate in
// the steady state.
struct Scratch {
  std::vector<uint32_t> symbols;
  std::vector<uint32_t> lens;  // offsets mode: symbol lengths in HF's word
  std::vector<uint32_t> raw_at;  // offsets mode, byte-level: HF byte -> raw byte
  models_internal::MergeScratch merge;
  std::string text;
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

class BpeModel final : public Model {
 public:
  Status init(BpeConfig config, const std::string& path,
              const std::vector<size_t>& merge_json_index);

  Status tokenize(std::string_view piece, std::vector<uint32_t>& ids) const override {
    if (cuts_enabled_ && piece.size() >= kCutMinBytes) return tokenize_cut(piece, ids);
    return tokenize_one(piece, ids);
  }

  // Hashes each piece and prefetches its cache entry and encode-map slot
  // kAhead pieces before tokenizing it.
  Status tokenize_pieces(const PieceList& pieces, std::vector<uint32_t>& ids) const override {
    constexpr size_t kAhead = 8;
    const auto& cache = models_internal::PieceCache::local();
    uint64_t hashes[kAhead];
    const size_t n = pieces.spans.size();
    auto prepare = [&](size_t i) {
      const Span& s = pieces.spans[i];
      const uint64_t h = models_internal::hash_bytes(pieces.bytes.data() + s.offset, s.length);
      hashes[i % kAhead] = h;
      cache.prefetch(h);
      encode_map_.prefetch(h);
    };
    for (size_t i = 0; i < std::min(n, kAhead); ++i) prepare(i);
    for (size_t i = 0; i < n; ++i) {
      const Span& s = pieces.spans[i];
      const uint64_t h = hashes[i % kAhead];
      if (i + kAhead < n) prepare(i + kAhead);
      if (s.length == 0) continue;
      const std::string_view piece = pieces.view(s);
      if (cuts_enabled_ && piece.size() >= kCutMinBytes) {
        KEEL_RETURN_IF_ERROR(tokenize_cut(piece, ids));
      } else {
        KEEL_RETURN_IF_ERROR(tokenize_hashed(piece, h, ids));
      }
    }
    return OkStatus();
  }

  Status tokenize_one(std::string_view piece, std::vector<uint32_t>& ids) const {
    if (piece.empty()) return OkStatus();
    return tokenize_hashed(piece, models_internal::hash_bytes(piece.data(), piece.size()), ids);
  }

  // tokenize_one of a non-empty piece whose hash_bytes is `h`.
  Status tokenize_hashed(std::string_view piece, uint64_t h, std::vector<uint32_t>& ids) const {
    auto& cache = models_internal::PieceCache::local();
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

  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    return vocab_.token(id);
  }
  size_t vocab_size() const override { return vocab_.size(); }

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

  models_internal::VocabTable vocab_;  // tokenizer.json strings
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

Status BpeModel::init(BpeConfig config, const std::string& path,
                      const std::vector<size_t>& merge_json_index) {
  byte_fallback_ = config.byte_fallback;
  fuse_unk_ = config.fuse_unk;
  byte_level_raw_ = config.byte_level_raw;
  prefix_ = std::move(config.continuing_subword_prefix);
  suffix_ = std::move(config.end_of_word_suffix);
  unk_token_ = std::move(config.unk_token);

  KEEL_RETURN_IF_ERROR(vocab_.build(config.vocab, path + ".vocab"));

  const size_t prefix_len = prefix_.size();
  merges_.reserve(config.merges.size());
  std::string merged;
  for (size_t i = 0; i < config.merges.size(); ++i) {
    const BpeMerge& m = config.merges[i];
    auto where = [&] {
      return fmt::format("{}.merges[{}]", path,
                         merge_json_index.empty() ? i : merge_json_index[i]);
    };
    const auto left = vocab_.find(m.left);
    if (!left) return InvalidArgumentError("{}: token \"{}\" is not in the vocab", where(), m.left);
    const auto right = vocab_.find(m.right);
    if (!right) {
      return InvalidArgumentError("{}: token \"{}\" is not in the vocab", where(), m.right);
    }
    if (m.right.size() < prefix_len) {
      return InvalidArgumentError("{}: right token \"{}\" is shorter than the continuing "
                                  "subword prefix \"{}\"", where(), m.right, prefix_);
    }
    merged.assign(m.left).append(m.right, prefix_len);
    const auto merged_id = vocab_.find(merged);
    if (!merged_id) {
      return InvalidArgumentError("{}: merged token \"{}\" is not in the vocab", where(), merged);
    }
    if (m.rank == UINT32_MAX) return InvalidArgumentError("{}: rank 2^32-1 is reserved", where());
    merges_.insert(*left, *right, MergeInfo{m.rank, *merged_id});
  }

  if (byte_level_raw_) {
    auto p = alphabet_to_raw(prefix_);
    auto s = alphabet_to_raw(suffix_);
    if (!p || !s) {
      return UnimplementedError(
          "{}: continuing_subword_prefix/end_of_word_suffix with characters outside the "
          "byte-level alphabet are not supported in byte-level mode", path);
    }
    prefix_enc_ = std::move(*p);
    suffix_enc_ = std::move(*s);
    encode_map_.reserve(config.vocab.size(), 0);
    for (const auto& [token, id] : config.vocab) {
      // Entries outside the alphabet can never be produced from raw bytes.
      if (auto raw = alphabet_to_raw(token)) encode_map_.insert(*raw, id);
    }
  } else {
    prefix_enc_ = prefix_;
    suffix_enc_ = suffix_;
    encode_map_.reserve(config.vocab.size(), 0);
    for (const auto& [token, id] : config.vocab) encode_map_.insert(token, id);
  }

  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool single = byte_level_raw_ || b < 0x80;
    const auto id = single ? encode_map_.find(std::string_view(&c, 1)) : std::nullopt;
    single_byte_ids_[b] = id ? *id : kNoId;
    const auto fb = vocab_.find(fmt::format("<0x{:02X}>", b));
    byte_fallback_ids_[b] = fb ? *fb : kNoId;
  }
  if (unk_token_) {
    if (const auto u = vocab_.find(*unk_token_)) unk_id_ = *u;
  }

  // Whole-piece shortcut: with ignore_merges HF looks the piece up first;
  // otherwise only entries the merges rebuild exactly are safe to shortcut.
  std::vector<uint32_t> out;
  for (size_t e = 0; e < encode_map_.size(); ++e) {
    const uint32_t id = encode_map_.value_at(e);
    bool shortcut = config.ignore_merges;
    if (!shortcut) {
      out.clear();
      shortcut = tokenize_merging(encode_map_.key_at(e), out).ok() && out.size() == 1 &&
                 out[0] == id;
    }
    if (shortcut) encode_map_.set_value_at(e, id | kShortcutBit);
  }
  // Cutting is exact unless unknown symbols can occur with fuse_unk or
  // byte_fallback, whose ordering rules look across neighbouring symbols.
  bool all_fallback_bytes = byte_fallback_;
  for (uint32_t id : byte_fallback_ids_) all_fallback_bytes = all_fallback_bytes && id != kNoId;
  const bool unk_free_of_context = all_fallback_bytes || (!fuse_unk_ && !byte_fallback_);
  cuts_enabled_ = prefix_.empty() && suffix_.empty() && unk_free_of_context;
  if (cuts_enabled_) build_cut_pairs();
  return OkStatus();
}

std::pair<uint32_t, size_t> BpeModel::next_symbol(std::string_view s, size_t i) const {
  const auto b = static_cast<uint8_t>(s[i]);
  if (byte_level_raw_ || b < 0x80) return {b, 1};
  // Same symbol boundaries as initial_symbols(); ill-formed sequences are
  // keyed by their lead byte, tagged so they cannot equal a code point.
  const int l = utf8::sequence_length(b);
  const size_t len = (l == 0 || i + static_cast<size_t>(l) > s.size()) ? 1 : static_cast<size_t>(l);
  const utf8::Decoded d = utf8::decode(s, i);
  if (!d.valid || d.length != len) return {b | 0x80000000u, len};
  return {static_cast<uint32_t>(d.code_point), len};
}

void BpeModel::build_cut_pairs() {
  for (size_t e = 0; e < encode_map_.size(); ++e) {
    const std::string_view tok = encode_map_.key_at(e);
    uint32_t prev = UINT32_MAX;
    for (size_t i = 0; i < tok.size();) {
      auto [sym, len] = next_symbol(tok, i);
      if (prev != UINT32_MAX) {
        if (prev < 128 && sym < 128) ascii_pair_bits_[prev][sym] = true;
        else other_pairs_.insert((uint64_t{prev} << 32) | sym);
      }
      prev = sym;
      i += len;
    }
  }
}

Status BpeModel::tokenize_cut(std::string_view piece, std::vector<uint32_t>& ids) const {
  size_t start = 0;
  uint32_t prev = UINT32_MAX;
  for (size_t i = 0; i < piece.size();) {
    auto [sym, len] = next_symbol(piece, i);
    if (prev != UINT32_MAX && !pair_in_vocab(prev, sym)) {
      KEEL_RETURN_IF_ERROR(tokenize_one(piece.substr(start, i - start), ids));
      start = i;
    }
    prev = sym;
    i += len;
  }
  return tokenize_one(piece.substr(start), ids);
}

std::string BpeModel::hf_form(std::string_view sym, bool first, bool last) const {
  std::string s;
  if (!first) s += prefix_;
  s += byte_level_raw_ ? raw_to_alphabet(sym) : std::string(sym);
  if (last) s += suffix_;
  return s;
}

template <bool kLens>
Status BpeModel::add_unknown(std::string_view hf_form, uint32_t len, UnkState& st,
                             std::vector<uint32_t>& out, std::vector<uint32_t>* lens) const {
  if (byte_fallback_) {
    bool all = true;
    for (char c : hf_form) all = all && byte_fallback_ids_[static_cast<uint8_t>(c)] != kNoId;
    if (all) {
      // As HF: a pending unk is not flushed before byte-fallback tokens,
      // and each of them is one byte long in HF's word.
      for (char c : hf_form) out.push_back(byte_fallback_ids_[static_cast<uint8_t>(c)]);
      if constexpr (kLens) lens->insert(lens->end(), hf_form.size(), 1);
      return OkStatus();
    }
  }
  if (!unk_token_) return OkStatus();  // HF drops the symbol
  if (unk_id_ == kNoId) {
    return InvalidArgumentError("BPE unk_token \"{}\" is not in the vocab", *unk_token_);
  }
  if (st.pending != kNoId && fuse_unk_) {
    st.pending_len += len;
    return OkStatus();
  }
  if (st.pending != kNoId) {
    out.push_back(st.pending);
    if constexpr (kLens) lens->push_back(st.pending_len);
  }
  st.pending = unk_id_;
  st.pending_len = len;
  return OkStatus();
}

template <bool kLens>
Status BpeModel::initial_symbols(std::string_view piece, std::vector<uint32_t>& out,
                                 std::vector<uint32_t>* lens) const {
  if (!prefix_.empty() || !suffix_.empty()) return initial_symbols_affixed<kLens>(piece, out, lens);
  UnkState st;
  const size_t n = piece.size();
  for (size_t i = 0; i < n;) {
    const auto b = static_cast<uint8_t>(piece[i]);
    size_t len = 1;
    uint32_t id;
    if (byte_level_raw_ || b < 0x80) {
      id = single_byte_ids_[b];
    } else {
      const int l = utf8::sequence_length(b);
      len = (l == 0 || i + static_cast<size_t>(l) > n) ? 1 : static_cast<size_t>(l);
      const auto v = encode_map_.find(piece.substr(i, len));
      id = v ? (*v & ~kShortcutBit) : kNoId;
    }
    uint32_t hf_len = 0;
    if constexpr (kLens) hf_len = hf_length(piece.substr(i, len));
    if (id != kNoId) {
      add_known<kLens>(id, hf_len, st, out, lens);
    } else {
      const std::string_view sym = piece.substr(i, len);
      if (byte_level_raw_) {
        KEEL_RETURN_IF_ERROR(add_unknown<kLens>(hf_form(sym, true, false), hf_len, st, out, lens));
      } else {
        KEEL_RETURN_IF_ERROR(add_unknown<kLens>(sym, hf_len, st, out, lens));
      }
    }
    i += len;
  }
  if (st.pending != kNoId) {
    out.push_back(st.pending);
    if constexpr (kLens) lens->push_back(st.pending_len);
  }
  return OkStatus();
}

template <bool kLens>
Status BpeModel::initial_symbols_affixed(std::string_view piece, std::vector<uint32_t>& out,
                                         std::vector<uint32_t>* lens) const {
  UnkState st;
  std::string& key = scratch().text;
  const size_t n = piece.size();
  for (size_t i = 0; i < n;) {
    size_t len = 1;
    if (!byte_level_raw_) {
      const int l = utf8::sequence_length(static_cast<uint8_t>(piece[i]));
      len = (l == 0 || i + static_cast<size_t>(l) > n) ? 1 : static_cast<size_t>(l);
    }
    const bool first = i == 0, last = i + len == n;
    const std::string_view sym = piece.substr(i, len);
    key.clear();
    if (!first) key += prefix_enc_;
    key += sym;
    if (last) key += suffix_enc_;
    uint32_t hf_len = 0;
    if constexpr (kLens) hf_len = hf_length(sym);
    if (const auto v = encode_map_.find(key)) {
      add_known<kLens>(*v & ~kShortcutBit, hf_len, st, out, lens);
    } else {
      KEEL_RETURN_IF_ERROR(add_unknown<kLens>(hf_form(sym, first, last), hf_len, st, out, lens));
    }
    i += len;
  }
  if (st.pending != kNoId) {
    out.push_back(st.pending);
    if constexpr (kLens) lens->push_back(st.pending_len);
  }
  return OkStatus();
}

Status BpeModel::tokenize_merging(std::string_view piece, std::vector<uint32_t>& ids) const {
  Scratch& s = scratch();
  s.symbols.clear();
  KEEL_RETURN_IF_ERROR(initial_symbols<false>(piece, s.symbols, nullptr));
  models_internal::apply_merges(merges_, s.symbols, s.merge);
  ids.insert(ids.end(), s.symbols.begin(), s.symbols.end());
  return OkStatus();
}

Status BpeModel::tokenize_one_with_offsets(std::string_view piece, uint32_t base,
                                           std::vector<uint32_t>& ids,
                                           std::vector<TokenRange>& ranges) const {
  if (piece.empty()) return OkStatus();
  const auto size = static_cast<uint32_t>(piece.size());
  // HF's ignore_merges lookup, or a whole-piece result proven at load.
  if (const auto v = encode_map_.find(piece); v && (*v & kShortcutBit)) {
    ids.push_back(*v & ~kShortcutBit);
    ranges.push_back(TokenRange{base, base + size});
    return OkStatus();
  }
  Scratch& s = scratch();
  s.symbols.clear();
  s.lens.clear();
  KEEL_RETURN_IF_ERROR(initial_symbols<true>(piece, s.symbols, &s.lens));
  models_internal::apply_merges_with_lengths(merges_, s.symbols, s.lens, s.merge);
  // Positions in HF's word → bytes of `piece` (identity unless byte-level).
  s.raw_at.clear();
  if (byte_level_raw_) {
    for (uint32_t i = 0; i < size; ++i) {
      const bool two = byte_level::byte_to_char(static_cast<uint8_t>(piece[i])) >= 0x80;
      s.raw_at.insert(s.raw_at.end(), two ? 2 : 1, i);
    }
  }
  const auto word_size = byte_level_raw_ ? static_cast<uint32_t>(s.raw_at.size()) : size;
  uint32_t pos = 0;
  for (size_t k = 0; k < s.symbols.size(); ++k) {
    const uint32_t b = pos, e = pos + s.lens[k];
    pos = e;
    TokenRange r;
    if (e > word_size) {
      // Past the word (affixes with byte fallback): HF's raw word offsets.
      r = TokenRange{b, e};
    } else if (byte_level_raw_) {
      r = TokenRange{s.raw_at[b], s.raw_at[e - 1] + 1};
    } else {
      r = TokenRange{b, e};
    }
    ids.push_back(s.symbols[k]);
    ranges.push_back(TokenRange{base + r.begin, base + r.end});
  }
  return OkStatus();
}

}  // namespace

namespace models_internal {

Result<std::unique_ptr<Model>> build_bpe(BpeConfig config, const std::string& path,
                                         const std::vector<size_t>& merge_json_index) {
  auto model = std::make_unique<BpeModel>();
  KEEL_RETURN_IF_ERROR(model->init(std::move(config), path, merge_json_index));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace models_internal

Result<std::unique_ptr<Model>> make_bpe(BpeConfig config) {
  return models_internal::build_bpe(std::move(config), "BpeConfig", {});
}

}  // namespace keel::tokenizer
