// PieceTrie: an immutable byte trie from piece strings to ids, used for
// libsentencepiece's prefix searches (Unigram lattice, user-defined symbol
// matching). Children of a node are stored as a sorted run of edges.
// Thread-safe after construction.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::tokenizer::spm {

class PieceTrie {
 public:
  PieceTrie() = default;
  // Empty keys are ignored; of equal keys, the first one given wins.
  explicit PieceTrie(std::vector<std::pair<std::string_view, uint32_t>> keys);

  bool empty() const { return nodes_.size() <= 1; }

  // Calls visit(length, id) for every key that is a prefix of `text`,
  // shortest first.
  template <typename Visit>
  void common_prefix_search(std::string_view text, Visit&& visit) const {
    if (nodes_.empty()) return;
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const Node& n = nodes_[node];
      const auto c = static_cast<uint8_t>(text[i]);
      const auto begin = labels_.begin() + n.first_edge;
      const auto end = begin + n.num_edges;
      const auto it = std::lower_bound(begin, end, c);
      if (it == end || *it != c) return;
      node = targets_[static_cast<size_t>(it - labels_.begin())];
      if (nodes_[node].id >= 0) visit(i + 1, static_cast<uint32_t>(nodes_[node].id));
    }
  }

  // Length of the longest key that is a prefix of `text`, or 0.
  size_t longest_prefix(std::string_view text) const {
    size_t longest = 0;
    common_prefix_search(text, [&](size_t length, uint32_t) { longest = length; });
    return longest;
  }

 private:
  struct Node {
    uint32_t first_edge = 0;
    uint32_t num_edges = 0;
    int64_t id = -1;
  };
  using Keys = std::vector<std::pair<std::string_view, uint32_t>>;
  void build(const Keys& keys);

  std::vector<Node> nodes_;
  std::vector<uint8_t> labels_;    // edge labels, sorted within a node
  std::vector<uint32_t> targets_;  // edge target nodes
};

}  // namespace keel::tokenizer::spm
