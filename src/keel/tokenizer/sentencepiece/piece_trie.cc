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
  build(keys);
}

// Builds the trie with an explicit stack (pieces can be arbitrarily long, so
// recursion over depth could overflow the stack on a hostile model). A task
// fills in node `index`, whose keys are keys[lo, hi), sharing `depth` bytes.
void PieceTrie::build(const Keys& keys) {
  struct Task {
    uint32_t index;
    size_t lo, hi, depth;
  };
  nodes_.emplace_back();
  std::vector<Task> stack = {Task{0, 0, keys.size(), 0}};
  while (!stack.empty()) {
    Task t = stack.back();
    stack.pop_back();
    if (t.lo < t.hi && keys[t.lo].first.size() == t.depth) {
      nodes_[t.index].id = keys[t.lo].second;
      ++t.lo;
    }
    nodes_[t.index].first_edge = static_cast<uint32_t>(labels_.size());
    for (size_t i = t.lo; i < t.hi;) {
      const auto c = static_cast<uint8_t>(keys[i].first[t.depth]);
      size_t j = i + 1;
      while (j < t.hi && static_cast<uint8_t>(keys[j].first[t.depth]) == c) ++j;
      const auto child = static_cast<uint32_t>(nodes_.size());
      nodes_.emplace_back();
      labels_.push_back(c);
      targets_.push_back(child);
      ++nodes_[t.index].num_edges;
      stack.push_back(Task{child, i, j, t.depth + 1});
      i = j;
    }
  }
}

}  // namespace keel::tokenizer::spm
