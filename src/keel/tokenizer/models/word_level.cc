#include "keel/tokenizer/models/word_level.h"

#include "keel/tokenizer/models/vocab_table.h"

namespace keel::tokenizer {
namespace {

class WordLevelModel final : public models_internal::VocabModel {
 public:
  Status init(WordLevelConfig config) {
    unk_token_ = std::move(config.unk_token);
    return vocab_.build(config.vocab, "WordLevel vocab");
  }

  Status tokenize(std::string_view piece, std::vector<uint32_t>& ids) const override {
    if (const auto id = vocab_.find(piece)) {
      ids.push_back(*id);
    } else if (const auto unk = vocab_.find(unk_token_)) {
      ids.push_back(*unk);
    } else {
      return InvalidArgumentError(
          "WordLevel: \"{}\" is not in the vocab and neither is the unk token \"{}\"", piece,
          unk_token_);
    }
    return OkStatus();
  }
  // The token covers the whole piece.
  Status tokenize_with_offsets(std::string_view piece, std::vector<uint32_t>& ids,
                               std::vector<TokenRange>& ranges) const override {
    KEEL_RETURN_IF_ERROR(tokenize(piece, ids));
    ranges.push_back(TokenRange{0, static_cast<uint32_t>(piece.size())});
    return OkStatus();
  }
 private:
  std::string unk_token_;
};

class WordPieceModel final : public models_internal::VocabModel {
 public:
  Status init(WordPieceConfig config) {
    unk_token_ = std::move(config.unk_token);
    prefix_ = std::move(config.continuing_subword_prefix);
    max_chars_ = config.max_input_chars_per_word;
    return vocab_.build(config.vocab, "WordPiece vocab");
  }

  Status tokenize(std::string_view piece, std::vector<uint32_t>& ids) const override {
    return tokenize_impl(piece, ids, nullptr);
  }
  // Each sub-word covers its bytes; the unk token covers the whole piece.
  Status tokenize_with_offsets(std::string_view piece, std::vector<uint32_t>& ids,
                               std::vector<TokenRange>& ranges) const override {
    return tokenize_impl(piece, ids, &ranges);
  }

  Status tokenize_impl(std::string_view piece, std::vector<uint32_t>& ids,
                       std::vector<TokenRange>* ranges) const {
    const auto whole = TokenRange{0, static_cast<uint32_t>(piece.size())};
    size_t num_chars = 0;
    for (char c : piece) num_chars += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    if (num_chars > max_chars_) {
      if (ranges != nullptr) ranges->push_back(whole);
      return push_unk(piece, ids);
    }
    const size_t first_new = ids.size();
    const size_t first_range = ranges != nullptr ? ranges->size() : 0;
    static thread_local std::string key;
    for (size_t start = 0; start < piece.size();) {
      size_t end = piece.size();
      bool found = false;
      while (start < end) {
        key.clear();
        if (start > 0) key += prefix_;
        key += piece.substr(start, end - start);
        if (const auto id = vocab_.find(key)) {
          ids.push_back(*id);
          if (ranges != nullptr) {
            ranges->push_back(
                TokenRange{static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
          }
          found = true;
          break;
        }
        // Drop the last character.
        do {
          --end;
        } while (end > start && (static_cast<uint8_t>(piece[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        ids.resize(first_new);
        if (ranges != nullptr) {
          ranges->resize(first_range);
          ranges->push_back(whole);
        }
        return push_unk(piece, ids);
      }
      start = end;
    }
    return OkStatus();
  }
 private:
  Status push_unk(std::string_view piece, std::vector<uint32_t>& ids) const {
    const auto unk = vocab_.find(unk_token_);
    if (!unk) {
      return InvalidArgumentError(
          "WordPiece: \"{}\" cannot be tokenized and the unk token \"{}\" is not in the vocab",
          piece, unk_token_);
    }
    ids.push_back(*unk);
    return OkStatus();
  }

  std::string unk_token_, prefix_;
  size_t max_chars_ = 100;
};

}  // namespace

Result<std::unique_ptr<Model>> make_word_level(WordLevelConfig config) {
  auto m = std::make_unique<WordLevelModel>();
  KEEL_RETURN_IF_ERROR(m->init(std::move(config)));
  return std::unique_ptr<Model>(std::move(m));
}

Result<std::unique_ptr<Model>> make_word_piece(WordPieceConfig config) {
  auto m = std::make_unique<WordPieceModel>();
  KEEL_RETURN_IF_ERROR(m->init(std::move(config)));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace keel::tokenizer
