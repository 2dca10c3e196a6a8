#include "keel/tokenizer/pre_tokenizers/unicode_props.h"

#include <map>
#include <vector>

namespace keel::tokenizer::unicode {

namespace {

#include "keel/tokenizer/pre_tokenizers/unicode_props_data.inc"

struct PropRanges {
  Prop prop;
  std::span<const CodeRange> ranges;
};

const std::array<PropRanges, 7> kAll = {{
    {kLetter, kOnigLetter},
    {kNumber, kOnigNumber},
    {kSpace, kOnigSpace},
    {kNumeric, kRustNumeric},
    {kPunctuation, kHfPunctuation},
    {kWord, kRegexWord},
    {kWhitespace, kRustWhitespace},
}};

PropTable build_table() {
  std::vector<uint8_t> flat(0x110000, 0);
  for (const PropRanges& pr : kAll) {
    for (const CodeRange& r : pr.ranges) {
      for (char32_t c = r.lo; c <= r.hi; ++c) flat[c] |= pr.prop;
    }
  }
  PropTable t;
  for (uint32_t c = 0; c < 0x80; ++c) t.ascii_[c] = flat[c];
  constexpr uint32_t kBlock = 1u << PropTable::kBlockBits;
  std::map<std::vector<uint8_t>, uint16_t> seen;
  for (uint32_t b = 0; b < PropTable::kNumBlocks; ++b) {
    std::vector<uint8_t> block(flat.begin() + b * kBlock, flat.begin() + (b + 1) * kBlock);
    auto [it, inserted] = seen.emplace(block, static_cast<uint16_t>(seen.size()));
    if (inserted) t.blocks_.insert(t.blocks_.end(), block.begin(), block.end());
    t.index_[b] = it->second;
  }
  return t;
}

}  // namespace

std::span<const CodeRange> ranges(Prop p) {
  for (const PropRanges& pr : kAll) {
    if (pr.prop == p) return pr.ranges;
  }
  return {};
}

std::span<const CodeRange> onig_word_ranges() { return kOnigWord; }
std::span<const CodeRange> onig_digit_ranges() { return kOnigDigit; }

const PropTable& prop_table() {
  static const PropTable table = build_table();
  return table;
}

}  // namespace keel::tokenizer::unicode
