// SpmVocab: a SentencePiece model's pieces and the rules libsentencepiece
// applies around any segmentation (ModelInterface + SentencePieceProcessor).
//
// Concepts
// - "Matchable" pieces are NORMAL, USER_DEFINED and UNUSED ones: only they
//   may be produced by segmenting text. CONTROL, UNKNOWN and BYTE pieces are
//   reserved and never match text.
// - id_of(piece) is libsentencepiece's PieceToId: reserved pieces first, then
//   matchable ones, else the unk id.
// - emit() turns a segmentation into ids: an unknown piece becomes its UTF-8
//   byte pieces when byte_fallback is on; otherwise a run of consecutive
//   unknown pieces becomes a single unk id.
// Invariants (checked by build): pieces are non-empty and unique; exactly one
// UNKNOWN piece; BYTE pieces are "<0xXX>" and only with byte_fallback, which
// then requires all 256. Immutable and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/sentencepiece/model_proto.h"
#include "keel/tokenizer/sentencepiece/piece_trie.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer::spm {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

// One unit of a segmentation: bytes of the normalized text and their id.
struct Segment {
  std::string_view piece;
  uint32_t id;
};

class SpmVocab {
 public:
  static Result<SpmVocab> build(const ModelProto& proto);

  size_t size() const { return pieces_.size(); }
  const std::string& piece(uint32_t id) const { return pieces_[id].piece; }
  float score(uint32_t id) const { return pieces_[id].score; }
  PieceType type(uint32_t id) const { return pieces_[id].type; }
  uint32_t unk_id() const { return unk_id_; }
  bool byte_fallback() const { return byte_fallback_; }
  // The "<0xXX>" piece of byte `b` (only with byte_fallback).
  uint32_t byte_id(uint8_t b) const { return byte_ids_[b]; }

  // Any piece, by exact string.
  std::optional<uint32_t> find(std::string_view piece) const;
  // NORMAL / USER_DEFINED / UNUSED pieces only. The hot lookup of BPE, so
  // it uses a flat open-addressing table rather than the node-based map.
  std::optional<uint32_t> find_matchable(std::string_view piece) const {
    const uint64_t h = hash_bytes(piece);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & slot_mask_;; i = (i + 1) & slot_mask_) {
      const uint64_t slot = slots_[i];
      if (slot == 0) return std::nullopt;
      const auto id = static_cast<uint32_t>(slot) - 1;
      if (static_cast<uint32_t>(slot >> 32) == tag && pieces_[id].piece == piece) return id;
    }
  }
  uint32_t id_of(std::string_view piece) const;

  const PieceMap& matchable() const { return matchable_; }
  // Longest USER_DEFINED piece that prefixes `text` (0 if none).
  size_t user_defined_prefix(std::string_view text) const {
    return user_defined_.longest_prefix(text);
  }
  bool has_user_defined() const { return !user_defined_.empty(); }

  void emit(const std::vector<Segment>& segments, std::vector<uint32_t>& ids) const;
  // emit() plus each token's byte range in the segmented text (segments
  // tile it in order): a piece covers its bytes, a byte piece its one byte
  // (so, through the alignments, its whole character, as HF's byte
  // fallback), a run of unknown pieces the whole run.
  void emit_with_offsets(const std::vector<Segment>& segments, std::vector<uint32_t>& ids,
                         std::vector<TokenRange>& ranges) const;

 private:
  // FNV-1a, then a final mix so the low bits (the slot) and high bits (the
  // tag) are both well spread.
  static uint64_t hash_bytes(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
  }
  void build_slots();

  std::vector<ProtoPiece> pieces_;
  PieceMap matchable_;
  std::vector<uint64_t> slots_;  // (tag << 32) | (id + 1); 0 = empty
  size_t slot_mask_ = 0;
  PieceMap reserved_;
  PieceTrie user_defined_;
  uint32_t unk_id_ = 0;
  bool byte_fallback_ = false;
  std::array<uint32_t, 256> byte_ids_{};
};

// Byte length of the UTF-8 sequence led by `c`, as libsentencepiece's
// OneCharLen computes it (from the high nibble; a stray continuation byte
// counts as 1).
inline size_t one_char_len(char c) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(c) >> 4];
}

}  // namespace keel::tokenizer::spm
