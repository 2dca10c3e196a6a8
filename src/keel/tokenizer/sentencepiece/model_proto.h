// A minimal protobuf reader for SentencePiece's ModelProto
// (sentencepiece_model.proto), without libprotobuf.
//
// Only the fields keel uses are kept; every other field is skipped by wire
// type, as protobuf does. Defaults follow the .proto file. Repeated
// occurrences of a sub-message merge, as in protobuf.
//
// Errors: truncated or corrupt input gives DataLoss naming the field (e.g.
// "ModelProto.pieces[12].score") and the byte offset where reading failed.
// The reader never reads outside `bytes`; it is meant to be fuzzed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"

namespace keel::tokenizer::spm {

enum class PieceType : uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class ModelType : uint8_t { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };

struct ProtoPiece {
  std::string piece;
  float score = 0.0f;
  PieceType type = PieceType::kNormal;
};

struct TrainerSpec {
  ModelType model_type = ModelType::kUnigram;
  int32_t vocab_size = 8000;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  bool split_digits = false;
  int32_t unk_id = 0;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t pad_id = -1;
  std::string unk_piece = "<unk>";
  std::string bos_piece = "<s>";
  std::string eos_piece = "</s>";
  std::string pad_piece = "<pad>";
  std::string unk_surface = " \xE2\x81\x87 ";
};

struct NormalizerSpec {
  std::string name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

struct ModelProto {
  std::vector<ProtoPiece> pieces;
  TrainerSpec trainer_spec;
  NormalizerSpec normalizer_spec;
  bool has_denormalizer_spec = false;
  NormalizerSpec denormalizer_spec;
};

Result<ModelProto> parse_model_proto(std::string_view bytes);

}  // namespace keel::tokenizer::spm
