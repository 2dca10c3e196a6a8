#include "keel/sampling/stop_checker.h"

#include <algorithm>
#include <utility>

#include "keel/core/utf8.h"

namespace keel::sampling {
namespace {

Status validate_ids(const std::vector<int32_t>& ids, std::string_view field,
                    int64_t vocab_size) {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size) {
      return InvalidArgumentError("{} contains {}, outside the vocabulary [0, {})", field, id,
                                  vocab_size);
    }
  }
  return OkStatus();
}

// KMP failure table: failure[i] is the length of the longest proper prefix
// of s[0, i] that is also a suffix of it.
std::vector<int32_t> failure_table(std::string_view s) {
  std::vector<int32_t> failure(s.size(), 0);
  int32_t k = 0;
  for (size_t i = 1; i < s.size(); ++i) {
    while (k > 0 && s[i] != s[static_cast<size_t>(k)]) k = failure[static_cast<size_t>(k) - 1];
    if (s[i] == s[static_cast<size_t>(k)]) ++k;
    failure[i] = k;
  }
  return failure;
}

}  // namespace

Status validate(const StopParams& p, int64_t vocab_size) {
  if (vocab_size < 1) {
    return InvalidArgumentError("vocab_size must be at least 1, got {}", vocab_size);
  }
  if (p.max_new_tokens < 1) {
    return InvalidArgumentError("max_new_tokens must be at least 1, got {}", p.max_new_tokens);
  }
  if (p.min_new_tokens < 0) {
    return InvalidArgumentError("min_new_tokens must be >= 0, got {}", p.min_new_tokens);
  }
  if (p.min_new_tokens > p.max_new_tokens) {
    return InvalidArgumentError(
        "min_new_tokens ({}) must not exceed max_new_tokens ({}); lower min_new_tokens or "
        "raise max_new_tokens",
        p.min_new_tokens, p.max_new_tokens);
  }
  if (p.stop_strings.size() > kMaxStopStrings) {
    return InvalidArgumentError("at most {} stop strings are allowed, got {}; drop some",
                                kMaxStopStrings, p.stop_strings.size());
  }
  for (size_t i = 0; i < p.stop_strings.size(); ++i) {
    const std::string& s = p.stop_strings[i];
    if (s.empty()) {
      return InvalidArgumentError("stop string {} is empty; remove it", i);
    }
    if (s.size() > kMaxStopStringBytes) {
      return InvalidArgumentError(
          "stop string {} is {} bytes; at most {} bytes are allowed, shorten it", i, s.size(),
          kMaxStopStringBytes);
    }
    if (Status st = utf8::validate(s); !st.ok()) {
      return InvalidArgumentError("stop string {} is not valid UTF-8: {}", i, st.message());
    }
  }
  KEEL_RETURN_IF_ERROR(validate_ids(p.eos_ids, "eos_ids", vocab_size));
  KEEL_RETURN_IF_ERROR(validate_ids(p.stop_token_ids, "stop_token_ids", vocab_size));
  return OkStatus();
}

Result<StopChecker> StopChecker::create(StopParams params, int64_t vocab_size) {
  KEEL_RETURN_IF_ERROR(validate(params, vocab_size));
  return StopChecker(std::move(params));
}

StopChecker::StopChecker(StopParams params) : params_(std::move(params)) {
  size_t longest = 0;
  for (const std::string& s : params_.stop_strings) {
    failure_.push_back(failure_table(s));
    longest = std::max(longest, s.size());
  }
  state_.assign(params_.stop_strings.size(), 0);
  suppress_below_min_ = params_.eos_ids;
  suppress_below_min_.insert(suppress_below_min_.end(), params_.stop_token_ids.begin(),
                             params_.stop_token_ids.end());
  // Held text is shorter than the longest stop string; a token's text is
  // rarely longer than a few dozen bytes.
  pending_.reserve(longest + 256);
  out_.reserve(longest + 256);
}

bool StopChecker::contains(const std::vector<int32_t>& ids, int32_t token) {
  return std::find(ids.begin(), ids.end(), token) != ids.end();
}

bool StopChecker::suppress_eos() const {
  return params_.ignore_eos || num_generated_ < params_.min_new_tokens;
}

std::span<const int32_t> StopChecker::suppressed_token_ids() const {
  if (num_generated_ < params_.min_new_tokens) return suppress_below_min_;
  if (params_.ignore_eos) return params_.eos_ids;
  return {};
}

StopChecker::Match StopChecker::feed(std::string_view text, bool honour) {
  const std::vector<std::string>& stops = params_.stop_strings;
  const size_t base = pending_.size();
  pending_.append(text);
  for (size_t j = 0; j < text.size(); ++j) {
    const char c = text[j];
    int32_t best = -1;
    for (size_t i = 0; i < stops.size(); ++i) {
      const std::string& s = stops[i];
      const std::vector<int32_t>& failure = failure_[i];
      auto q = static_cast<size_t>(state_[i]);
      while (q > 0 && s[q] != c) q = static_cast<size_t>(failure[q - 1]);
      if (s[q] == c) ++q;
      if (q == s.size()) {
        if (honour && (best < 0 || s.size() > stops[static_cast<size_t>(best)].size())) {
          best = static_cast<int32_t>(i);
        }
        q = static_cast<size_t>(failure[q - 1]);  // a stop below min_new_tokens: keep going
      }
      state_[i] = static_cast<int32_t>(q);
    }
    if (best >= 0) return Match{best, base + j + 1};
  }
  held_ = 0;
  for (int32_t q : state_) held_ = std::max(held_, static_cast<size_t>(q));
  // Every possible match starts inside the held suffix (it was held while
  // it was a prefix of a stop string), so it lies within pending_.
  KEEL_CHECK_LE(held_, pending_.size());
  return Match{};
}

std::string_view StopChecker::emit(size_t n, bool drop_rest) {
  out_.assign(pending_, 0, n);
  if (drop_rest) {
    pending_.clear();
    held_ = 0;
  } else {
    pending_.erase(0, n);
  }
  return out_;
}

StepResult StopChecker::finish_with(FinishInfo info, size_t emit_bytes) {
  info_ = info;
  return StepResult{emit(emit_bytes, /*drop_rest=*/true), true, info_};
}

StepResult StopChecker::on_token(int32_t token, std::string_view text_delta) {
  if (finished()) return StepResult{{}, true, info_};
  const int64_t n = ++num_generated_;
  const bool can_stop = n > params_.min_new_tokens;

  if (contains(params_.eos_ids, token)) {
    if (can_stop && !params_.ignore_eos) {
      return finish_with({FinishReason::kStop, StopCause::kEosToken, token, -1},
                         pending_.size());
    }
    text_delta = {};  // EOS text is never emitted
  } else if (can_stop && contains(params_.stop_token_ids, token)) {
    if (params_.include_stop_str_in_output) pending_.append(text_delta);
    return finish_with({FinishReason::kStop, StopCause::kStopToken, token, -1},
                       pending_.size());
  }

  const Match match = feed(text_delta, can_stop);
  if (match.index >= 0) {
    const size_t length = params_.stop_strings[static_cast<size_t>(match.index)].size();
    return finish_with({FinishReason::kStop, StopCause::kStopString, -1, match.index},
                       params_.include_stop_str_in_output ? match.end : match.end - length);
  }
  if (n >= params_.max_new_tokens) {
    return finish_with({FinishReason::kLength, StopCause::kMaxNewTokens, -1, -1},
                       pending_.size());
  }
  return StepResult{emit(pending_.size() - held_, /*drop_rest=*/false), false, {}};
}

StepResult StopChecker::finish(FinishReason reason, std::string_view final_text) {
  if (finished()) return StepResult{{}, true, info_};
  // The final text belongs to the last token counted.
  const Match match = feed(final_text, num_generated_ > params_.min_new_tokens);
  if (match.index >= 0) {
    const size_t length = params_.stop_strings[static_cast<size_t>(match.index)].size();
    return finish_with({FinishReason::kStop, StopCause::kStopString, -1, match.index},
                       params_.include_stop_str_in_output ? match.end : match.end - length);
  }
  if (reason == FinishReason::kNone) reason = FinishReason::kAbort;
  return finish_with({reason, StopCause::kCaller, -1, -1}, pending_.size());
}

}  // namespace keel::sampling
