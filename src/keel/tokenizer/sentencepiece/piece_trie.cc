#include "keel/tokenizer/sentencepiece/piece_trie.h"

namespace keel::tokenizer::spm {

// Empty keys are dropped; of equal keys the first wins.
PieceTrie::PieceTrie(std::vector<std::pair<std::string_view, uint32_t>> keys) {
  std::erase_if(keys, [](const auto& k) { return k.first.empty(); });
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Equal keys: the first one given wins.
  keys.erase(std::unique(keys.begin(), keys.end(),
                         [](const auto& a, const auto& b) { return a.first == b.first; }),
             keys.end());
  build(keys, 0, keys.size(), 0);
}

// Builds the node for keys[lo, hi), which share their first `depth` bytes.
// Iterative over siblings, recursive over depth (bounded by the key length).
uint32_t PieceTrie::build(const Keys& keys, size_t lo, size_t hi, size_t depth) {
  const auto index = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  if (lo < hi && keys[lo].first.size() == depth) {
    nodes_[index].id = keys[lo].second;
    ++lo;
  }
  struct Group {
    uint8_t label;
    size_t lo, hi;
  };
  std::vector<Group> groups;
  for (size_t i = lo; i < hi;) {
    const auto c = static_cast<uint8_t>(keys[i].first[depth]);
    size_t j = i + 1;
    while (j < hi && static_cast<uint8_t>(keys[j].first[depth]) == c) ++j;
    groups.push_back(Group{c, i, j});
    i = j;
  }
  const auto first = static_cast<uint32_t>(labels_.size());
  nodes_[index].first_edge = first;
  nodes_[index].num_edges = static_cast<uint32_t>(groups.size());
  for (const Group& g : groups) {
    labels_.push_back(g.label);
    targets_.push_back(0);
  }
  for (size_t k = 0; k < groups.size(); ++k) {
    const uint32_t child = build(keys, groups[k].lo, groups[k].hi, depth + 1);
    targets_[first + k] = child;
  }
  return index;
}

}  // namespace keel::tokenizer::spm
