#include "keel/tokenizer/sentencepiece/model_proto.h"

#include <cstring>

namespace keel::tokenizer::spm {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

const char* wire_type_name(uint32_t w) {
  switch (w) {
    case kVarint: return "varint";
    case kFixed64: return "64-bit";
    case kLength: return "length-delimited";
    case kFixed32: return "32-bit";
    case 3: return "start-group";
    case 4: return "end-group";
    default: return "invalid";
  }
}

// One decoded field: its number, wire type and payload.
struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;
  uint32_t fixed32 = 0;
  std::string_view bytes;
  size_t offset = 0;  // absolute offset of the field's key
};

// Reads the fields of one message. `base` is the message's absolute offset
// in the file, so errors name positions in the original bytes. `name` is
// the message's path ("ModelProto.pieces[3]"); `field_name` names fields.
class MessageReader {
 public:
  MessageReader(std::string_view data, size_t base, std::string name,
                const char* (*field_name)(uint32_t))
      : data_(data), base_(base), name_(std::move(name)), field_name_(field_name) {}

  bool done() const { return pos_ >= data_.size(); }

  Result<Field> next() {
    Field f;
    f.offset = base_ + pos_;
    uint64_t key = 0;
    KEEL_RETURN_IF_ERROR(read_varint(key, "field key"));
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire_type = static_cast<uint32_t>(key & 7);
    if (f.number == 0 || (key >> 3) > 0x1FFFFFFF) {
      return DataLossError("sentencepiece model: {}: invalid field number {} at byte offset {}",
                           name_, key >> 3, f.offset);
    }
    const std::string what = field_label(f.number);
    switch (f.wire_type) {
      case kVarint:
        KEEL_RETURN_IF_ERROR(read_varint(f.varint, what));
        break;
      case kFixed64:
        KEEL_RETURN_IF_ERROR(need(8, what));
        pos_ += 8;
        break;
      case kFixed32: {
        KEEL_RETURN_IF_ERROR(need(4, what));
        const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
        f.fixed32 = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                    (uint32_t{p[3]} << 24);
        pos_ += 4;
        break;
      }
      case kLength: {
        uint64_t length = 0;
        KEEL_RETURN_IF_ERROR(read_varint(length, what + " length"));
        KEEL_RETURN_IF_ERROR(need(length, what));
        f.bytes = data_.substr(pos_, static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        break;
      }
      default:
        return DataLossError("sentencepiece model: {}: unsupported wire type {} ({}) at byte "
                             "offset {}",
                             what, f.wire_type, wire_type_name(f.wire_type), f.offset);
    }
    return f;
  }

  // DataLoss unless `f` has wire type `expected`.
  Status expect(const Field& f, uint32_t expected) const {
    if (f.wire_type == expected) return OkStatus();
    return DataLossError("sentencepiece model: {}: wire type {} ({}) at byte offset {}, "
                         "expected {}",
                         field_label(f.number), f.wire_type, wire_type_name(f.wire_type),
                         f.offset, wire_type_name(expected));
  }

  std::string field_label(uint32_t number) const {
    const char* n = field_name_(number);
    return n ? name_ + "." + n : fmt::format("{} field {}", name_, number);
  }
  const std::string& name() const { return name_; }
  size_t base() const { return base_; }

 private:
  Status need(uint64_t n, const std::string& what) const {
    if (n <= data_.size() - pos_) return OkStatus();
    return DataLossError("sentencepiece model: {}: truncated at byte offset {} (needs {} "
                         "bytes, {} left)",
                         what, base_ + pos_, n, data_.size() - pos_);
  }

  Status read_varint(uint64_t& out, const std::string& what) {
    out = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ >= data_.size()) {
        return DataLossError("sentencepiece model: {}: truncated varint at byte offset {}",
                             what, base_ + pos_);
      }
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      if (shift < 64) out |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return OkStatus();
    }
    return DataLossError("sentencepiece model: {}: varint longer than 10 bytes at byte offset {}",
                         what, base_ + pos_);
  }

  std::string_view data_;
  size_t pos_ = 0;
  size_t base_;
  std::string name_;
  const char* (*field_name_)(uint32_t);
};

size_t offset_in(std::string_view outer, std::string_view inner, size_t outer_base) {
  return outer_base + static_cast<size_t>(inner.data() - outer.data());
}

float as_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

const char* piece_field(uint32_t n) {
  switch (n) {
    case 1: return "piece";
    case 2: return "score";
    case 3: return "type";
    default: return nullptr;
  }
}

const char* trainer_field(uint32_t n) {
  switch (n) {
    case 3: return "model_type";
    case 4: return "vocab_size";
    case 24: return "treat_whitespace_as_suffix";
    case 25: return "split_digits";
    case 35: return "byte_fallback";
    case 40: return "unk_id";
    case 41: return "bos_id";
    case 42: return "eos_id";
    case 43: return "pad_id";
    case 44: return "unk_surface";
    case 45: return "unk_piece";
    case 46: return "bos_piece";
    case 47: return "eos_piece";
    case 48: return "pad_piece";
    default: return nullptr;
  }
}

const char* normalizer_field(uint32_t n) {
  switch (n) {
    case 1: return "name";
    case 2: return "precompiled_charsmap";
    case 3: return "add_dummy_prefix";
    case 4: return "remove_extra_whitespaces";
    case 5: return "escape_whitespaces";
    default: return nullptr;
  }
}

const char* model_field(uint32_t n) {
  switch (n) {
    case 1: return "pieces";
    case 2: return "trainer_spec";
    case 3: return "normalizer_spec";
    case 4: return "self_test_data";
    case 5: return "denormalizer_spec";
    default: return nullptr;
  }
}

Status parse_piece(std::string_view data, size_t base, size_t index, ProtoPiece& out) {
  MessageReader r(data, base, fmt::format("ModelProto.pieces[{}]", index), piece_field);
  while (!r.done()) {
    KEEL_ASSIGN_OR_RETURN(Field f, r.next());
    switch (f.number) {
      case 1:
        KEEL_RETURN_IF_ERROR(r.expect(f, kLength));
        out.piece.assign(f.bytes);
        break;
      case 2:
        KEEL_RETURN_IF_ERROR(r.expect(f, kFixed32));
        out.score = as_float(f.fixed32);
        break;
      case 3:
        KEEL_RETURN_IF_ERROR(r.expect(f, kVarint));
        if (f.varint < 1 || f.varint > 6) {
          return DataLossError("sentencepiece model: {}.type: unknown piece type {} at byte "
                               "offset {}",
                               r.name(), f.varint, f.offset);
        }
        out.type = static_cast<PieceType>(f.varint);
        break;
      default:
        break;
    }
  }
  return OkStatus();
}

Status parse_trainer_spec(std::string_view data, size_t base, TrainerSpec& t) {
  MessageReader r(data, base, "ModelProto.trainer_spec", trainer_field);
  while (!r.done()) {
    KEEL_ASSIGN_OR_RETURN(Field f, r.next());
    const bool is_string = f.number >= 44 && f.number <= 48;
    const bool known = trainer_field(f.number) != nullptr;
    if (!known) continue;
    KEEL_RETURN_IF_ERROR(r.expect(f, is_string ? kLength : kVarint));
    const auto i32 = static_cast<int32_t>(static_cast<uint32_t>(f.varint));
    switch (f.number) {
      case 3:
        if (f.varint < 1 || f.varint > 4) {
          return DataLossError("sentencepiece model: {}.model_type: unknown model type {} at "
                               "byte offset {}",
                               r.name(), f.varint, f.offset);
        }
        t.model_type = static_cast<ModelType>(f.varint);
        break;
      case 4: t.vocab_size = i32; break;
      case 24: t.treat_whitespace_as_suffix = f.varint != 0; break;
      case 25: t.split_digits = f.varint != 0; break;
      case 35: t.byte_fallback = f.varint != 0; break;
      case 40: t.unk_id = i32; break;
      case 41: t.bos_id = i32; break;
      case 42: t.eos_id = i32; break;
      case 43: t.pad_id = i32; break;
      case 44: t.unk_surface.assign(f.bytes); break;
      case 45: t.unk_piece.assign(f.bytes); break;
      case 46: t.bos_piece.assign(f.bytes); break;
      case 47: t.eos_piece.assign(f.bytes); break;
      case 48: t.pad_piece.assign(f.bytes); break;
      default: break;
    }
  }
  return OkStatus();
}

Status parse_normalizer_spec(std::string_view data, size_t base, const char* name,
                             NormalizerSpec& n) {
  MessageReader r(data, base, name, normalizer_field);
  while (!r.done()) {
    KEEL_ASSIGN_OR_RETURN(Field f, r.next());
    if (normalizer_field(f.number) == nullptr) continue;
    KEEL_RETURN_IF_ERROR(r.expect(f, f.number <= 2 ? kLength : kVarint));
    switch (f.number) {
      case 1: n.name.assign(f.bytes); break;
      case 2: n.precompiled_charsmap.assign(f.bytes); break;
      case 3: n.add_dummy_prefix = f.varint != 0; break;
      case 4: n.remove_extra_whitespaces = f.varint != 0; break;
      case 5: n.escape_whitespaces = f.varint != 0; break;
      default: break;
    }
  }
  return OkStatus();
}

}  // namespace

Result<ModelProto> parse_model_proto(std::string_view bytes) {
  ModelProto m;
  MessageReader r(bytes, 0, "ModelProto", model_field);
  while (!r.done()) {
    KEEL_ASSIGN_OR_RETURN(Field f, r.next());
    if (model_field(f.number) == nullptr || f.number == 4) continue;
    KEEL_RETURN_IF_ERROR(r.expect(f, kLength));
    const size_t at = offset_in(bytes, f.bytes, 0);
    switch (f.number) {
      case 1:
        m.pieces.emplace_back();
        KEEL_RETURN_IF_ERROR(parse_piece(f.bytes, at, m.pieces.size() - 1, m.pieces.back()));
        break;
      case 2:
        KEEL_RETURN_IF_ERROR(parse_trainer_spec(f.bytes, at, m.trainer_spec));
        break;
      case 3:
        KEEL_RETURN_IF_ERROR(
            parse_normalizer_spec(f.bytes, at, "ModelProto.normalizer_spec", m.normalizer_spec));
        break;
      case 5:
        m.has_denormalizer_spec = true;
        KEEL_RETURN_IF_ERROR(parse_normalizer_spec(f.bytes, at, "ModelProto.denormalizer_spec",
                                                   m.denormalizer_spec));
        break;
      default:
        break;
    }
  }
  return m;
}

}  // namespace keel::tokenizer::spm
