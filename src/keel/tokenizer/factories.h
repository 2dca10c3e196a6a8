// Factories: build pipeline stages from their tokenizer.json objects.
//
// Errors: a malformed object gets InvalidArgument naming the JSON path and
// what was wrong; a `type` keel does not implement gets Unimplemented naming
// the type and the path. A null JSON value means "no stage" and returns
// nullptr (for normalizer, pre_tokenizer, post_processor, decoder).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

// Byte-level mode. When the pipeline contains a ByteLevel pre-tokenizer and
// the model is BPE, keel skips the byte→unicode mapping on the encode path:
// the ByteLevel pre-tokenizer leaves piece bytes raw (`map_bytes = false`) and
// the BPE model converts its vocabulary and merges from the GPT-2 byte
// alphabet to raw bytes once, at load. Results are identical; it saves a
// per-byte rewrite and lets the model look up raw text directly.
struct StageOptions {
  bool byte_level_raw = false;
};

Result<std::unique_ptr<Normalizer>> make_normalizer(const nlohmann::json& j, const std::string& path);
Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j,
                                                        const std::string& path,
                                                        const StageOptions& options);
Result<std::unique_ptr<Model>> make_model(const nlohmann::json& j, const std::string& path,
                                          const StageOptions& options);
Result<std::unique_ptr<Decoder>> make_decoder(const nlohmann::json& j, const std::string& path);
// `token_to_id` resolves special-token names for TemplateProcessing checks.
Result<std::unique_ptr<PostProcessor>> make_post_processor(const nlohmann::json& j,
                                                          const std::string& path);

// True if `pre_tokenizer` (a tokenizer.json object, possibly a Sequence)
// contains a ByteLevel pre-tokenizer.
bool contains_byte_level(const nlohmann::json& pre_tokenizer);

}  // namespace keel::tokenizer
