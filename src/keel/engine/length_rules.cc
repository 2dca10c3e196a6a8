#include "keel/engine/length_rules.h"

#include <fmt/format.h>

#include <algorithm>

namespace keel::engine {

Result<ResolvedLengths> resolve_lengths(const EngineRequest& r, const LengthLimits& limits) {
  const auto prompt = static_cast<int64_t>(r.prompt_ids.size());
  const int64_t window = limits.context_tokens;
  const int64_t pool = limits.pool_tokens;
  if (prompt == 0) return InvalidArgumentError("the prompt is empty; give at least one token");
  for (size_t i = 0; i < r.prompt_ids.size(); ++i) {
    if (r.prompt_ids[i] < 0 || r.prompt_ids[i] >= limits.vocab_size) {
      return InvalidArgumentError("prompt token {} (index {}) is outside the vocabulary [0, {})",
                                  r.prompt_ids[i], i, limits.vocab_size);
    }
  }
  const int64_t min_new = r.stop.min_new_tokens;
  if (min_new < 0) return InvalidArgumentError("min_new_tokens must be >= 0, got {}", min_new);
  // At least one token is always generated.
  const int64_t must_hold = prompt + std::max<int64_t>(min_new, 1);
  if (must_hold > window) {
    return InvalidArgumentError(
        "the prompt has {} tokens and min_new_tokens is {}: {} tokens, but the context window is "
        "{} tokens; shorten the prompt or lower min_new_tokens",
        prompt, min_new, must_hold, window);
  }
  if (must_hold > pool) {
    return InvalidArgumentError(
        "the prompt has {} tokens and min_new_tokens is {}: {} tokens, but the whole KV pool "
        "holds {} tokens; shorten the prompt or lower min_new_tokens",
        prompt, min_new, must_hold, pool);
  }
  ResolvedLengths out;
  out.min_new_tokens = min_new;
  const int64_t room_window = window - prompt;
  const int64_t room_pool = pool - prompt;
  if (!r.max_new_tokens) {
    out.max_new_tokens = room_window;
    out.limit_reason = KeelReason::kContextWindow;
  } else {
    const int64_t asked = *r.max_new_tokens;
    if (asked < 1) return InvalidArgumentError("max_new_tokens must be >= 1, got {}", asked);
    if (asked < min_new) {
      return InvalidArgumentError("min_new_tokens {} is larger than max_new_tokens {}", min_new,
                                  asked);
    }
    out.max_new_tokens = asked;
    if (asked > room_window) {
      if (r.strict_length) {
        return InvalidArgumentError(
            "max_new_tokens {} does not fit: the prompt has {} tokens and the context window is "
            "{}, so at most {} can be generated",
            asked, prompt, window, room_window);
      }
      out.adjustments.push_back(
          fmt::format("max_new_tokens lowered from {} to {}: prompt {} tokens, context window {}",
                      asked, room_window, prompt, window));
      out.max_new_tokens = room_window;
      out.limit_reason = KeelReason::kContextWindow;
    }
  }
  if (out.max_new_tokens > room_pool) {
    if (r.strict_length && r.max_new_tokens) {
      return InvalidArgumentError(
          "max_new_tokens {} does not fit: the prompt has {} tokens and the whole KV pool holds "
          "{}, so at most {} can be generated",
          out.max_new_tokens, prompt, pool, room_pool);
    }
    out.adjustments.push_back(
        fmt::format("max_new_tokens lowered from {} to {}: prompt {} tokens, KV pool {} tokens",
                    out.max_new_tokens, room_pool, prompt, pool));
    out.max_new_tokens = room_pool;
    out.limit_reason = KeelReason::kKvPool;
  }
  return out;
}

}  // namespace keel::engine
