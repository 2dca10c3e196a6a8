// BpeModel construction: vocabulary and merge tables, the whole-piece
// shortcut bits and the cut pairs. Encoding is bpe.cc.
#include <fmt/format.h>

#include "keel/core/utf8.h"
#include "keel/tokenizer/models/bpe_internal.h"
#include "keel/tokenizer/models/bpe_model.h"

namespace keel::tokenizer::models_internal {
namespace {

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

}  // namespace

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

Result<std::unique_ptr<Model>> build_bpe(BpeConfig config, const std::string& path,
                                         const std::vector<size_t>& merge_json_index) {
  auto model = std::make_unique<BpeModel>();
  KEEL_RETURN_IF_ERROR(model->init(std::move(config), path, merge_json_index));
  return std::unique_ptr<Model>(std::move(model));
}


}  // namespace keel::tokenizer::models_internal
