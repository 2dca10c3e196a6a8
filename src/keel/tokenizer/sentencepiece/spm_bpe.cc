#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "keel/tokenizer/sentencepiece/spm_models.h"

namespace keel::tokenizer::spm {
namespace {

using RevMerge = std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;

// The bytes of one character (as one_char_len splits) packed into 32 bits.
uint32_t pack_char(std::string_view c) {
  uint32_t v = 0;
  for (char b : c) v = (v << 8) | static_cast<uint8_t>(b);
  return v;
}

uint64_t bigram_key(std::string_view a, std::string_view b) {
  return (uint64_t{pack_char(a)} << 32) | pack_char(b);
}

// Contract: see spm_models.h (BPE).
//
// Speed: a merge joins adjacent symbols into a matchable piece, so no merge
// can ever cross a boundary between two characters that are adjacent in no
// matchable piece. Text is cut at such boundaries and each chunk is merged
// on its own; the result is identical and the agenda stays small.
class SpmBpe final : public SpmModelBase {
 public:
  explicit SpmBpe(std::shared_ptr<const SpmVocab> vocab) : SpmModelBase(std::move(vocab)) {
    for (uint32_t id = 0; id < vocab_->size(); ++id) {
      if (vocab_->type(id) == PieceType::kUnused) has_unused_ = true;
    }
    for (const auto& [piece, id] : vocab_->matchable()) {
      std::string_view prev;
      for (size_t pos = 0; pos < piece.size();) {
        const size_t len = std::min(one_char_len(piece[pos]), piece.size() - pos);
        const std::string_view cur = std::string_view(piece).substr(pos, len);
        if (!prev.empty()) bigrams_.insert(bigram_key(prev, cur));
        prev = cur;
        pos += len;
      }
    }
  }

 private:
  // The segmentation of non-empty `text` into `segments` (in order, tiling it).
  void segment(std::string_view text, std::vector<Segment>& segments) const override {
    segments.clear();
    RevMerge rev_merge;
    size_t chunk = 0;
    std::string_view prev;
    for (size_t pos = 0; pos < text.size();) {
      const size_t len = std::min(one_char_len(text[pos]), text.size() - pos);
      const std::string_view cur = text.substr(pos, len);
      if (!prev.empty() && !bigrams_.contains(bigram_key(prev, cur))) {
        merge_chunk(text.substr(chunk, pos - chunk), rev_merge, segments);
        chunk = pos;
      }
      prev = cur;
      pos += len;
    }
    merge_chunk(text.substr(chunk), rev_merge, segments);
  }

  // bpe_model.cc's Encode on one chunk; appends its segmentation.
  void merge_chunk(std::string_view text, RevMerge& rev_merge, std::vector<Segment>& out) const {
    struct Symbol {
      int64_t prev;
      int64_t next;
      size_t begin;  // byte range in `text`; length 0 once merged away
      size_t length;
      bool frozen;
    };
    struct Pair {
      float score;
      int64_t left;
      int64_t right;
      size_t length;
    };
    // The agenda order: highest score first, then leftmost.
    struct Lower {
      bool operator()(const Pair& a, const Pair& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
      }
    };
    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<Pair> heap;  // a max-heap under Lower
    symbols.clear();
    heap.clear();

    // Split into characters; a USER_DEFINED piece is one frozen symbol.
    for (size_t pos = 0; pos < text.size();) {
      size_t len = vocab_->has_user_defined() ? vocab_->user_defined_prefix(text.substr(pos)) : 0;
      const bool frozen = len > 0;
      if (!frozen) len = std::min(one_char_len(text[pos]), text.size() - pos);
      const auto index = static_cast<int64_t>(symbols.size());
      symbols.push_back(
          Symbol{index - 1, pos + len < text.size() ? index + 1 : -1, pos, len, frozen});
      pos += len;
    }
    auto view = [&](int64_t i) {
      const Symbol& s = symbols[static_cast<size_t>(i)];
      return text.substr(s.begin, s.length);
    };
    auto maybe_add = [&](int64_t left, int64_t right) {
      if (left == -1 || right == -1) return;
      const Symbol& l = symbols[static_cast<size_t>(left)];
      const Symbol& r = symbols[static_cast<size_t>(right)];
      if (l.frozen || r.frozen) return;
      const std::string_view merged = text.substr(l.begin, l.length + r.length);
      const auto id = vocab_->find_matchable(merged);
      if (!id) return;
      heap.push_back(Pair{vocab_->score(*id), left, right, merged.size()});
      std::push_heap(heap.begin(), heap.end(), Lower{});
      if (has_unused_ && vocab_->type(*id) == PieceType::kUnused) {
        rev_merge[merged] = {view(left), view(right)};
      }
    };
    for (size_t i = 1; i < symbols.size(); ++i) {
      maybe_add(static_cast<int64_t>(i - 1), static_cast<int64_t>(i));
    }
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), Lower{});
      const Pair top = heap.back();
      heap.pop_back();
      Symbol& l = symbols[static_cast<size_t>(top.left)];
      Symbol& r = symbols[static_cast<size_t>(top.right)];
      // Stale: one side was merged away or has grown since the push.
      if (l.length == 0 || r.length == 0 || l.length + r.length != top.length) continue;
      l.length += r.length;
      l.next = r.next;
      if (r.next >= 0) symbols[static_cast<size_t>(r.next)].prev = top.left;
      r.length = 0;
      maybe_add(l.prev, top.left);
      maybe_add(top.left, l.next);
    }
    for (int64_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
      resegment(view(i), rev_merge, out);
    }
  }

  // An UNUSED piece is replaced by the two symbols it was merged from.
  void resegment(std::string_view piece, const RevMerge& rev_merge,
                 std::vector<Segment>& out) const {
    const uint32_t id = vocab_->id_of(piece);
    if (vocab_->type(id) == PieceType::kUnused) {
      if (const auto it = rev_merge.find(piece); it != rev_merge.end()) {
        resegment(it->second.first, rev_merge, out);
        resegment(it->second.second, rev_merge, out);
        return;
      }
    }
    out.push_back(Segment{piece, id});
  }

  bool has_unused_ = false;
  std::unordered_set<uint64_t> bigrams_;  // adjacent character pairs in matchable pieces
};

}  // namespace

std::unique_ptr<Model> make_spm_bpe(std::shared_ptr<const SpmVocab> vocab) {
  return std::make_unique<SpmBpe>(std::move(vocab));
}

}  // namespace keel::tokenizer::spm
