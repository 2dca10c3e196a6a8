// Constructors of the individual decoders, used by make_decoder
// (factory.cc). Each takes its tokenizer.json object and JSON path and
// returns InvalidArgument naming the path for a malformed object.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

using DecoderResult = Result<std::unique_ptr<Decoder>>;

DecoderResult make_byte_level_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_metaspace_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_byte_fallback_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_fuse_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_strip_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_replace_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_word_piece_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_bpe_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_ctc_decoder(const nlohmann::json& j, const std::string& path);
DecoderResult make_sequence_decoder(const nlohmann::json& j, const std::string& path);

// A non-negative integer (Rust `usize` fields).
Result<size_t> get_count(const nlohmann::json& j, const char* key, const std::string& path);

}  // namespace keel::tokenizer
