#include "keel/tokenizer/stream_decoder.h"

namespace keel::tokenizer {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && std::string_view(s).substr(s.size() - 3) == kReplacement;
}

}  // namespace

StreamDecoder::StreamDecoder(Tokenizer tokenizer, bool skip_special_tokens)
    : tokenizer_(std::move(tokenizer)), skip_special_(skip_special_tokens) {}

Result<std::string> StreamDecoder::step(uint32_t id) {
  ids_.push_back(id);
  KEEL_ASSIGN_OR_RETURN(std::string text, tokenizer_.decode(ids_, skip_special_));
  const bool incomplete = ends_with_replacement(text) && held_ + 1 < kMaxHeldTokens;
  if (text.size() <= prefix_.size() || incomplete) {
    ++held_;
    return std::string();
  }
  if (text.compare(0, prefix_.size(), prefix_) != 0) {
    return InternalError(
        "stream decoder: decoding the window changed already emitted text ('{}' is not a prefix "
        "of '{}'); the tokenizer's decoder is not prefix-stable",
        prefix_, text);
  }
  std::string fresh = text.substr(prefix_.size());
  // Keep the ids since the last emission as context for the next step.
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_index_ = ids_.size();
  KEEL_ASSIGN_OR_RETURN(prefix_, tokenizer_.decode(ids_, skip_special_));
  held_ = 0;
  return fresh;
}

Result<std::string> StreamDecoder::finish() {
  if (held_ == 0) return std::string();
  KEEL_ASSIGN_OR_RETURN(std::string text, tokenizer_.decode(ids_, skip_special_));
  held_ = 0;
  if (text.size() <= prefix_.size()) return std::string();
  std::string fresh = text.substr(prefix_.size());
  prefix_ = std::move(text);
  return fresh;
}

}  // namespace keel::tokenizer
