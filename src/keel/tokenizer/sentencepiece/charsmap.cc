#include "keel/tokenizer/sentencepiece/charsmap.h"

#include "keel/core/utf8.h"

namespace keel::tokenizer::spm {

Result<CharsMap> CharsMap::parse(std::string_view blob) {
  CharsMap map;
  if (blob.empty()) return map;
  if (blob.size() <= 4) {
    return DataLossError("precompiled charsmap of {} bytes is too short: it needs a 4-byte trie "
                         "size followed by the trie",
                         blob.size());
  }
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  const uint32_t trie_bytes =
      uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
  if (trie_bytes > blob.size() - 4) {
    return DataLossError("precompiled charsmap: trie size {} at offset 0 exceeds the {} bytes "
                         "that follow it",
                         trie_bytes, blob.size() - 4);
  }
  KEEL_ASSIGN_OR_RETURN(map.trie_, DartsTrie::from_bytes(blob.substr(4, trie_bytes)));
  map.strings_ = std::string(blob.substr(4 + trie_bytes));
  const size_t bad = utf8::find_invalid(map.strings_);
  if (bad != std::string_view::npos) {
    return DataLossError("precompiled charsmap: replacement strings are not valid UTF-8 at "
                         "byte offset {}",
                         4 + trie_bytes + bad);
  }
  return map;
}

Result<std::string_view> CharsMap::replacement(uint32_t value) const {
  if (value >= strings_.size()) {
    return DataLossError("precompiled charsmap: rule points at offset {} but the replacement "
                         "strings are {} bytes",
                         value, strings_.size());
  }
  const std::string_view rest = std::string_view(strings_).substr(value);
  if (!rest.empty() && (static_cast<unsigned char>(rest[0]) & 0xC0) == 0x80) {
    return DataLossError("precompiled charsmap: rule points at offset {}, inside a UTF-8 "
                         "character",
                         value);
  }
  const size_t nul = rest.find('\0');
  return rest.substr(0, nul);
}

Result<CharsMap::Rule> CharsMap::longest_rule(std::string_view input) const {
  size_t longest = 0;
  uint32_t longest_value = 0;
  size_t seen = 0;
  trie_.common_prefix_search(input, /*stop_at_nul=*/false, [&](size_t length, uint32_t value) {
    if (longest == 0 || length > longest) {
      longest = length;
      longest_value = value;
    }
    return ++seen < kMaxTrieResults;
  });
  if (longest == 0) return Rule{};
  KEEL_ASSIGN_OR_RETURN(std::string_view r, replacement(longest_value));
  return Rule{longest, r};
}

Result<std::optional<std::string_view>> CharsMap::first_rule(std::string_view input) const {
  std::optional<uint32_t> first;
  trie_.common_prefix_search(input, /*stop_at_nul=*/true, [&](size_t, uint32_t value) {
    first = value;
    return false;
  });
  if (!first) return std::optional<std::string_view>();
  KEEL_ASSIGN_OR_RETURN(std::string_view r, replacement(*first));
  return std::optional<std::string_view>(r);
}

}  // namespace keel::tokenizer::spm
