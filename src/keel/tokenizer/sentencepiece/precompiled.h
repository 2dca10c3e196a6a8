// The "Precompiled" normalizer: SentencePiece's compiled character map
// (a darts-clone double-array trie of normalization rules, as stored in
// normalizer_spec.precompiled_charsmap and in tokenizer.json as base64).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

// From the raw charsmap bytes (empty map = identity).
Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(std::string_view charsmap);
// From a tokenizer.json {"type": "Precompiled", "precompiled_charsmap": "<base64>"}.
Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(const nlohmann::json& j,
                                                               const std::string& path);

}  // namespace keel::tokenizer
