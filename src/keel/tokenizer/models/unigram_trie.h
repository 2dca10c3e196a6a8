// UnigramTrie: a static byte trie over the Unigram pieces for common-prefix
// search (every piece that is a prefix of the text, shortest first, as HF's
// Trie::common_prefix_search yields them).
//
// Layout: nodes in BFS order; a node's children are contiguous, with their
// byte labels in a parallel array; the root's children are found through a
// 256-entry table. Immutable after build(); thread-safe for reads.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace keel::tokenizer::models_internal {

class UnigramTrie {
 public:
  // `keys`: distinct strings with their ids (an empty key never matches).
  void build(std::vector<std::pair<std::string_view, uint32_t>> keys) {
    std::sort(keys.begin(), keys.end());
    nodes_.clear();
    labels_.clear();
    nodes_.push_back(Node{});
    labels_.push_back(0);
    struct Work {
      uint32_t node, lo, hi, depth;
    };
    std::vector<Work> queue{{0, 0, static_cast<uint32_t>(keys.size()), 0}};
    for (size_t q = 0; q < queue.size(); ++q) {
      Work w = queue[q];
      if (w.lo < w.hi && keys[w.lo].first.size() == w.depth) {
        nodes_[w.node].value = keys[w.lo].second;  // the empty suffix sorts first
        ++w.lo;
      }
      nodes_[w.node].first_child = static_cast<uint32_t>(nodes_.size());
      for (uint32_t i = w.lo; i < w.hi;) {
        const auto label = static_cast<uint8_t>(keys[i].first[w.depth]);
        uint32_t j = i;
        while (j < w.hi && static_cast<uint8_t>(keys[j].first[w.depth]) == label) ++j;
        const auto child = static_cast<uint32_t>(nodes_.size());
        nodes_.push_back(Node{});
        labels_.push_back(label);
        queue.push_back(Work{child, i, j, w.depth + 1});
        ++nodes_[w.node].num_children;
        i = j;
      }
    }
    root_.fill(kNone);
    for (uint32_t c = 0; c < nodes_[0].num_children; ++c) {
      root_[labels_[nodes_[0].first_child + c]] = nodes_[0].first_child + c;
    }
  }

  // Calls fn(length, id) for every key that is a prefix of `s`, shortest first.
  template <typename Fn>
  void for_each_prefix(std::string_view s, Fn&& fn) const {
    if (s.empty() || nodes_.empty()) return;
    uint32_t node = root_[static_cast<uint8_t>(s[0])];
    size_t depth = 1;
    while (node != kNone) {
      const Node& n = nodes_[node];
      if (n.value != kNone) fn(depth, n.value);
      if (depth == s.size() || n.num_children == 0) return;
      const auto label = static_cast<uint8_t>(s[depth]);
      const uint8_t* begin = labels_.data() + n.first_child;
      const uint8_t* end = begin + n.num_children;
      const uint8_t* it = std::lower_bound(begin, end, label);
      node = (it != end && *it == label) ? n.first_child + static_cast<uint32_t>(it - begin)
                                         : kNone;
      ++depth;
    }
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Node {
    uint32_t first_child = 0;
    uint32_t num_children = 0;
    uint32_t value = kNone;
  };
  std::vector<Node> nodes_;
  std::vector<uint8_t> labels_;
  std::array<uint32_t, 256> root_{};
};

}  // namespace keel::tokenizer::models_internal
