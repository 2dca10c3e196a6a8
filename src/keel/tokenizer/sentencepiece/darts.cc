#include "keel/tokenizer/sentencepiece/darts.h"

namespace keel::tokenizer::spm {

Result<DartsTrie> DartsTrie::from_bytes(std::string_view bytes) {
  if (bytes.size() % 4 != 0) {
    return DataLossError("double-array trie of {} bytes is not a whole number of 4-byte units",
                         bytes.size());
  }
  DartsTrie trie;
  trie.units_.resize(bytes.size() / 4);
  for (size_t i = 0; i < trie.units_.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + 4 * i);
    trie.units_[i] = uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                     (uint32_t{p[3]} << 24);
  }
  return trie;
}

}  // namespace keel::tokenizer::spm
