#include "keel/tokenizer/sentencepiece/spm_vocab.h"

namespace keel::tokenizer::spm {
namespace {

// "<0x4A>" → 0x4A; the exact form libsentencepiece writes (upper-case hex).
std::optional<uint8_t> byte_of_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const int hi = hex(p[3]), lo = hex(p[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

}  // namespace

Result<SpmVocab> SpmVocab::build(const ModelProto& proto) {
  SpmVocab v;
  v.pieces_ = proto.pieces;
  v.byte_fallback_ = proto.trainer_spec.byte_fallback;
  std::optional<uint32_t> unk;
  std::array<bool, 256> have_byte{};
  std::vector<std::pair<std::string_view, uint32_t>> user_defined;
  for (size_t i = 0; i < v.pieces_.size(); ++i) {
    const auto id = static_cast<uint32_t>(i);
    const ProtoPiece& p = v.pieces_[i];
    if (p.piece.empty()) {
      return InvalidArgumentError("sentencepiece model: piece {} is empty", i);
    }
    const bool matchable = p.type == PieceType::kNormal || p.type == PieceType::kUserDefined ||
                           p.type == PieceType::kUnused;
    PieceMap& map = matchable ? v.matchable_ : v.reserved_;
    if (v.matchable_.contains(p.piece) || v.reserved_.contains(p.piece)) {
      return InvalidArgumentError("sentencepiece model: piece {} '{}' is defined twice", i,
                                  p.piece);
    }
    map.emplace(p.piece, id);
    if (p.type == PieceType::kUserDefined) user_defined.emplace_back(v.pieces_[i].piece, id);
    if (p.type == PieceType::kUnknown) {
      if (unk) {
        return InvalidArgumentError("sentencepiece model: two UNKNOWN pieces ({} and {})", *unk,
                                    i);
      }
      unk = id;
    }
    if (p.type == PieceType::kByte) {
      if (!v.byte_fallback_) {
        return InvalidArgumentError("sentencepiece model: byte piece {} '{}' found although "
                                    "trainer_spec.byte_fallback is false",
                                    i, p.piece);
      }
      const auto b = byte_of_piece(p.piece);
      if (!b) {
        return InvalidArgumentError("sentencepiece model: byte piece {} '{}' is not of the "
                                    "form <0xXX>",
                                    i, p.piece);
      }
      have_byte[*b] = true;
      v.byte_ids_[*b] = id;
    }
  }
  if (!unk) return InvalidArgumentError("sentencepiece model: no UNKNOWN piece is defined");
  v.unk_id_ = *unk;
  if (v.byte_fallback_) {
    for (size_t b = 0; b < 256; ++b) {
      if (!have_byte[b]) {
        return InvalidArgumentError("sentencepiece model: byte_fallback is on but byte piece "
                                    "<0x{:02X}> is missing",
                                    b);
      }
    }
  }
  v.user_defined_ = PieceTrie(std::move(user_defined));
  v.build_slots();
  return v;
}

void SpmVocab::build_slots() {
  size_t capacity = 16;
  while (capacity < 2 * matchable_.size() + 1) capacity *= 2;
  slots_.assign(capacity, 0);
  slot_mask_ = capacity - 1;
  for (const auto& [piece, id] : matchable_) {
    const uint64_t h = hash_bytes(piece);
    size_t i = h & slot_mask_;
    while (slots_[i] != 0) i = (i + 1) & slot_mask_;
    slots_[i] = ((h >> 32) << 32) | (uint64_t{id} + 1);
  }
}

std::optional<uint32_t> SpmVocab::find(std::string_view piece) const {
  if (auto it = reserved_.find(piece); it != reserved_.end()) return it->second;
  return find_matchable(piece);
}

uint32_t SpmVocab::id_of(std::string_view piece) const {
  return find(piece).value_or(unk_id_);
}

void SpmVocab::emit(const std::vector<Segment>& segments, std::vector<uint32_t>& ids) const {
  bool prev_unk = false;
  for (const Segment& s : segments) {
    const bool unk = pieces_[s.id].type == PieceType::kUnknown;
    if (unk && byte_fallback_) {
      for (char c : s.piece) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
    } else if (!(unk && prev_unk)) {
      ids.push_back(s.id);
    }
    prev_unk = unk;
  }
}

void SpmVocab::emit_with_offsets(const std::vector<Segment>& segments, std::vector<uint32_t>& ids,
                                 std::vector<TokenRange>& ranges) const {
  bool prev_unk = false;
  uint32_t pos = 0;
  for (const Segment& s : segments) {
    const uint32_t begin = pos;
    const uint32_t end = pos + static_cast<uint32_t>(s.piece.size());
    pos = end;
    const bool unk = pieces_[s.id].type == PieceType::kUnknown;
    if (unk && byte_fallback_) {
      for (uint32_t k = begin; k < end; ++k) {
        ids.push_back(byte_ids_[static_cast<uint8_t>(s.piece[k - begin])]);
        ranges.push_back(TokenRange{k, k + 1});
      }
    } else if (!(unk && prev_unk)) {
      ids.push_back(s.id);
      ranges.push_back(TokenRange{begin, end});
    } else {
      ranges.back().end = end;  // the run's one unk id covers it all
    }
    prev_unk = unk;
  }
}

}  // namespace keel::tokenizer::spm
