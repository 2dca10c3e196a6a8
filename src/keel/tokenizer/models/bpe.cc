// BPE model: see bpe.h for the semantics. The merge loop is bpe_merge.h.
#include "keel/tokenizer/models/bpe.h"

#include <fmt/format.h>

#include <algorithm>

#include "keel/core/utf8.h"
#include "keel/tokenizer/models/bpe_internal.h"
#include "keel/tokenizer/models/bpe_merge.h"
#include "keel/tokenizer/models/bpe_model.h"

namespace keel::tokenizer {
namespace {

using models_internal::BpeModel;
using models_internal::PieceCache;
using models_internal::kNoId;
using models_internal::kShortcutBit;

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
  models_internal::MergeBatch batch;
  std::vector<models_internal::DeferredPiece> deferred;
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

}  // namespace

namespace models_internal {

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

Status BpeModel::tokenize_pieces(const PieceList& pieces, std::vector<uint32_t>& ids) const {
  constexpr size_t kAhead = 16, kCheck = 8;
  auto& cache = PieceCache::local();
  Scratch& s = scratch();
  s.batch.clear();
  s.deferred.clear();
  uint64_t hashes[kAhead];
  const size_t n = pieces.spans.size();
  auto prepare = [&](size_t i) {
    const Span& sp = pieces.spans[i];
    const uint64_t h = hash_bytes(pieces.bytes.data() + sp.offset, sp.length);
    hashes[i % kAhead] = h;
    cache.prefetch(h);
  };
  auto check = [&](size_t i) {
    const uint64_t h = hashes[i % kAhead];
    if (!cache.may_hit(cache_id_, h)) encode_map_.prefetch(h);
  };
  for (size_t i = 0; i < std::min(n, kAhead); ++i) prepare(i);
  for (size_t i = 0; i < std::min(n, kCheck); ++i) check(i);
  for (size_t i = 0; i < n; ++i) {
    const Span& sp = pieces.spans[i];
    const uint64_t h = hashes[i % kAhead];
    if (i + kAhead < n) prepare(i + kAhead);
    if (i + kCheck < n) check(i + kCheck);
    if (sp.length == 0) continue;
    const std::string_view piece = pieces.view(sp);
    if (cuts_enabled_ && piece.size() >= kCutMinBytes) {
      KEEL_RETURN_IF_ERROR(tokenize_cut(piece, ids));
      continue;
    }
    if (cache.lookup(cache_id_, h, piece, ids)) continue;
    if (const auto v = encode_map_.find_hashed(piece, h); v && (*v & kShortcutBit)) {
      ids.push_back(*v & ~kShortcutBit);
      cache.store(cache_id_, h, piece, &ids.back(), 1);
      continue;
    }
    s.symbols.clear();
    KEEL_RETURN_IF_ERROR(initial_symbols<false>(piece, s.symbols, nullptr));
    if (s.symbols.size() < 2 || s.symbols.size() > models_internal::kMergeScanMaxSymbols) {
      const size_t first = ids.size();
      models_internal::apply_merges(merges_, s.symbols, s.merge);
      ids.insert(ids.end(), s.symbols.begin(), s.symbols.end());
      cache.store(cache_id_, h, piece, ids.data() + first, ids.size() - first);
      continue;
    }
    s.batch.add(merges_, s.symbols);
    s.deferred.push_back(DeferredPiece{piece, h, ids.size()});
    if (s.batch.full()) flush_deferred(cache, s.deferred, s.batch, ids);
  }
  if (!s.batch.empty()) flush_deferred(cache, s.deferred, s.batch, ids);
  return OkStatus();
}

void BpeModel::flush_deferred(PieceCache& cache, std::vector<DeferredPiece>& deferred,
                              models_internal::MergeBatch& batch,
                              std::vector<uint32_t>& ids) const {
  batch.run(merges_);
  size_t extra = 0;
  for (size_t w = 0; w < batch.size(); ++w) extra += batch.result_size(w);
  // Open the gaps from the back: word w's ids go at deferred[w].at plus the
  // sizes of the words before it; the ids between gaps move as blocks.
  const size_t old_size = ids.size();
  ids.resize(old_size + extra);
  size_t end = old_size;
  for (size_t w = batch.size(); w-- > 0;) {
    const size_t at = deferred[w].at, len = batch.result_size(w);
    extra -= len;
    std::copy_backward(ids.begin() + static_cast<ptrdiff_t>(at),
                       ids.begin() + static_cast<ptrdiff_t>(end),
                       ids.begin() + static_cast<ptrdiff_t>(end + extra + len));
    std::copy(batch.result(w), batch.result(w) + len,
              ids.begin() + static_cast<ptrdiff_t>(at + extra));
    cache.store(cache_id_, deferred[w].hash, deferred[w].piece, batch.result(w), len);
    end = at;
  }
  batch.clear();
  deferred.clear();
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

}  // namespace models_internal

Result<std::unique_ptr<Model>> make_bpe(BpeConfig config) {
  return models_internal::build_bpe(std::move(config), "BpeConfig", {});
}

}  // namespace keel::tokenizer
