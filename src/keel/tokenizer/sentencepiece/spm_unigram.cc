#include <cfloat>

#include "keel/tokenizer/sentencepiece/spm_models.h"

namespace keel::tokenizer::spm {
namespace {

constexpr float kUnkPenalty = 10.0f;

// Contract: see spm_models.h (Unigram).
class SpmUnigram final : public SpmModelBase {
 public:
  explicit SpmUnigram(std::shared_ptr<const SpmVocab> vocab) : SpmModelBase(std::move(vocab)) {
    std::vector<std::pair<std::string_view, uint32_t>> keys;
    for (const auto& [piece, id] : vocab_->matchable()) keys.emplace_back(piece, id);
    trie_ = PieceTrie(std::move(keys));
    // As libsentencepiece: over NORMAL pieces, starting from FLT_MAX / FLT_MIN.
    min_score_ = FLT_MAX;
    max_score_ = FLT_MIN;
    for (uint32_t id = 0; id < vocab_->size(); ++id) {
      if (vocab_->type(id) != PieceType::kNormal) continue;
      min_score_ = std::min(min_score_, vocab_->score(id));
      max_score_ = std::max(max_score_, vocab_->score(id));
    }
  }

 private:
  // The Viterbi segmentation of non-empty `text` into `segments`.
  void segment(std::string_view text, std::vector<Segment>& segments) const override {
    // The numeric types mirror unigram_model.cc (float path scores, double
    // candidates for pieces, float for unk) so near-ties resolve identically.
    struct BestPath {
      int64_t starts_at = -1;
      uint32_t id = 0;
      float score = 0;
    };
    thread_local std::vector<BestPath> best;
    const size_t size = text.size();
    best.assign(size + 1, BestPath{});
    const float unk_score = min_score_ - kUnkPenalty;
    size_t start = 0;
    while (start < size) {
      const float till_here = best[start].score;
      const size_t mblen = std::min(one_char_len(text[start]), size - start);
      bool has_single_node = false;
      trie_.common_prefix_search(text.substr(start), [&](size_t length, uint32_t id) {
        const PieceType type = vocab_->type(id);
        if (type == PieceType::kUnused) return;
        BestPath& target = best[start + length];
        // In unigram_model.cc the piece score is a conditional between a
        // double (the user-defined bonus) and a float, so it is a double for
        // every piece: the candidate is compared in double, stored as float.
        const double score =
            type == PieceType::kUserDefined
                ? static_cast<double>(static_cast<float>(length) * max_score_) - 0.1
                : static_cast<double>(vocab_->score(id));
        const double candidate = score + static_cast<double>(till_here);
        const bool better =
            target.starts_at == -1 || candidate > static_cast<double>(target.score);
        if (better) {
          target = BestPath{static_cast<int64_t>(start), id, static_cast<float>(candidate)};
        }
        if (length == mblen) has_single_node = true;
      });
      if (!has_single_node) {
        BestPath& target = best[start + mblen];
        const float candidate = unk_score + till_here;
        if (target.starts_at == -1 || candidate > target.score) {
          target = BestPath{static_cast<int64_t>(start), vocab_->unk_id(), candidate};
        }
      }
      start += mblen;
    }
    segments.clear();
    for (size_t end = size; end > 0;) {
      const BestPath& node = best[end];
      const auto begin = static_cast<size_t>(node.starts_at);
      segments.push_back(Segment{text.substr(begin, end - begin), node.id});
      end = begin;
    }
    std::reverse(segments.begin(), segments.end());
  }

  PieceTrie trie_;
  float min_score_;
  float max_score_;
};

}  // namespace

std::unique_ptr<Model> make_spm_unigram(std::shared_ptr<const SpmVocab> vocab) {
  return std::make_unique<SpmUnigram>(std::move(vocab));
}

}  // namespace keel::tokenizer::spm
