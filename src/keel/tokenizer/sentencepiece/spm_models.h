// SentencePiece segmentation models, following libsentencepiece exactly
// (not HF's Unigram/BPE, whose rules differ: see sentencepiece_model.h).
//
// Unigram: the optimized Viterbi of unigram_model.cc over matchable pieces.
//   USER_DEFINED pieces score (length * max_normal_score - 0.1) so they always
//   win; UNUSED pieces are skipped; a character no piece starts with is unk
//   with score (min_normal_score - 10). Ties keep the first candidate found
//   (earlier start, then shorter piece).
// BPE: bpe_model.cc. Text starts as characters (USER_DEFINED pieces as single
//   frozen symbols); repeatedly the adjacent pair whose concatenation is a
//   matchable piece with the highest score merges, leftmost on equal scores.
//   A result that is an UNUSED piece is split back along its merge.
// Both then apply SpmVocab::emit (byte fallback / unk runs).
// Thread-safety: immutable; per-call scratch is thread_local.
#pragma once

#include <memory>

#include "keel/tokenizer/sentencepiece/spm_vocab.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer::spm {

// What both SentencePiece models share: the vocabulary, its lookups, and
// turning a segmentation into ids (and offsets). Each model supplies only
// segment().
class SpmModelBase : public Model {
 public:
  explicit SpmModelBase(std::shared_ptr<const SpmVocab> vocab) : vocab_(std::move(vocab)) {}

  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return vocab_->find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    if (id >= vocab_->size()) return std::nullopt;
    return std::string_view(vocab_->piece(id));
  }
  size_t vocab_size() const override { return vocab_->size(); }

  Status tokenize(std::string_view text, std::vector<uint32_t>& ids) const override {
    if (text.empty()) return OkStatus();
    thread_local std::vector<Segment> segments;
    segment(text, segments);
    vocab_->emit(segments, ids);
    return OkStatus();
  }
  Status tokenize_with_offsets(std::string_view text, std::vector<uint32_t>& ids,
                               std::vector<TokenRange>& ranges) const override {
    if (text.empty()) return OkStatus();
    thread_local std::vector<Segment> segments;
    segment(text, segments);
    vocab_->emit_with_offsets(segments, ids, ranges);
    return OkStatus();
  }

 protected:
  // The segmentation of non-empty `text` into `segments` (in order, tiling it).
  virtual void segment(std::string_view text, std::vector<Segment>& segments) const = 0;

  std::shared_ptr<const SpmVocab> vocab_;
};

std::unique_ptr<Model> make_spm_unigram(std::shared_ptr<const SpmVocab> vocab);
std::unique_ptr<Model> make_spm_bpe(std::shared_ptr<const SpmVocab> vocab);

}  // namespace keel::tokenizer::spm
