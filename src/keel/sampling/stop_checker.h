// StopChecker: decides when one request's generation ends and which text is
// safe to stream.
//
// Rules (README.md has examples):
// - Tokens are counted, not characters. A stop (EOS, stop token id, stop
//   string) is honoured only on a token numbered > min_new_tokens: the
//   first min_new_tokens tokens are always generated, and a stop string
//   that completes within them is ordinary text. suppressed_token_ids()
//   gives the ids the Sampler must suppress so that this is also what the
//   model sees (EOS and stop token ids below min_new_tokens; EOS always
//   with ignore_eos).
// - EOS text is never emitted. A stop token's text and a stop string are
//   emitted only with include_stop_str_in_output; text after a stop string
//   is dropped.
// - Stop strings are matched byte-wise in the accumulated text, across token
//   boundaries. Text that could be the start of a stop string is held back
//   until it completes (the request stops) or cannot (it is released). The
//   stop string that completes first in the text wins, so the result does
//   not depend on how the text is split into tokens; of two completing at
//   the same byte, the longer.
// - A token's own stop takes precedence over max_new_tokens: the token
//   numbered max_new_tokens ends with "length" only if it did not stop.
// - When on_token() reports finished, the text it returns is the last; all
//   held-back text has been released or dropped as the rules say.
//
// Allocation: create() builds the matchers and reserves the text buffers;
// on_token() allocates only when one token's text is longer than any before.
// Thread-safety: none; one StopChecker per request, one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"
#include "keel/sampling/finish_reason.h"

namespace keel::sampling {

inline constexpr size_t kMaxStopStrings = 16;
inline constexpr size_t kMaxStopStringBytes = 1024;

struct StopParams {
  // The model's EOS ids (config.json and generation_config.json together).
  std::vector<int32_t> eos_ids;
  // Non-empty valid UTF-8, at most kMaxStopStrings of at most
  // kMaxStopStringBytes bytes each.
  std::vector<std::string> stop_strings;
  // Ids that end generation like EOS but are not suppressed by ignore_eos.
  std::vector<int32_t> stop_token_ids;
  // >= 1. vLLM's default; the server sets it from the request or the room
  // left in the context window.
  int64_t max_new_tokens = 16;
  // In [0, max_new_tokens].
  int64_t min_new_tokens = 0;
  // Never stop on EOS (and suppress it throughout).
  bool ignore_eos = false;
  // Emit the matched stop string / stop token's text.
  bool include_stop_str_in_output = false;
};

// OK, or InvalidArgument naming the bad field and what to do. Token ids must
// be in [0, vocab_size).
Status validate(const StopParams& params, int64_t vocab_size);

struct StepResult {
  // Text that is now safe to emit. Valid until the next call on the checker.
  std::string_view text;
  bool finished = false;
  FinishInfo finish;  // reason kNone while not finished
};

class StopChecker {
 public:
  // InvalidArgument if validate(params, vocab_size) fails.
  static Result<StopChecker> create(StopParams params, int64_t vocab_size);

  // Feeds the next generated token and `text_delta`, the text that became
  // decodable with it (StreamDecoder::step(); may be empty while a
  // multi-byte character is pending). After finishing, returns the same
  // finish info with empty text and counts nothing.
  StepResult on_token(int32_t token, std::string_view text_delta);

  // Ends generation for a reason the checker does not see (the context
  // window is full → kLength, cancellation or deadline → kAbort). Runs
  // `final_text` (e.g. StreamDecoder::finish()) through stop-string
  // matching, so a stop string completing there still ends with kStop, and
  // releases all held-back text. If already finished, returns the existing
  // finish info with empty text.
  StepResult finish(FinishReason reason, std::string_view final_text = {});

  // True while EOS must be suppressed: fewer than min_new_tokens generated,
  // or ignore_eos.
  bool suppress_eos() const;
  // The ids to pass to Sampler::sample() for the next token: EOS and stop
  // token ids while fewer than min_new_tokens were generated, EOS ids with
  // ignore_eos, otherwise empty. Points into the checker.
  std::span<const int32_t> suppressed_token_ids() const;

  int64_t num_generated_tokens() const { return num_generated_; }
  bool finished() const { return info_.reason != FinishReason::kNone; }
  const FinishInfo& finish_info() const { return info_; }
  const StopParams& params() const { return params_; }
  // Bytes of text currently held back (a possible stop-string prefix).
  size_t held_bytes() const { return held_; }

 private:
  explicit StopChecker(StopParams params);

  struct Match {
    int32_t index = -1;  // into stop_strings; -1: none
    size_t end = 0;      // one past the match in pending_
  };
  // Appends `text` to pending_ and advances every matcher; stops at the
  // first honoured match. Updates held_ when there is none.
  Match feed(std::string_view text, bool honour);
  // Moves pending_[0, n) to out_, drops the rest of pending_ if `drop_rest`.
  std::string_view emit(size_t n, bool drop_rest);
  StepResult finish_with(FinishInfo info, size_t emit_bytes);
  static bool contains(const std::vector<int32_t>& ids, int32_t token);

  StopParams params_;
  std::vector<std::vector<int32_t>> failure_;  // KMP failure table per stop string
  std::vector<int32_t> state_;  // per stop string: length of the longest suffix
                                // of the text that is a prefix of it
  std::vector<int32_t> suppress_below_min_;  // eos_ids + stop_token_ids
  std::string pending_;  // text not yet emitted; only its last held_ bytes
                         // remain after each call
  std::string out_;      // what the last call returned
  size_t held_ = 0;
  int64_t num_generated_ = 0;
  FinishInfo info_;
};

}  // namespace keel::sampling
