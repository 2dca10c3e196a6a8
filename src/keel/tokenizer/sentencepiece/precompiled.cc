#include "keel/tokenizer/sentencepiece/precompiled.h"

#include <nlohmann/json.hpp>

namespace keel::tokenizer {

// Placeholder until the charsmap trie lands (sentencepiece/ owner replaces it).
Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(std::string_view) {
  return UnimplementedError("Precompiled normalizer: not implemented yet");
}

Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(const nlohmann::json&,
                                                               const std::string& path) {
  return UnimplementedError("{}: Precompiled normalizer: not implemented yet", path);
}

}  // namespace keel::tokenizer
