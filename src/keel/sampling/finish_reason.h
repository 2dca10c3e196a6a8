// Why a request's generation ended. Every finished request reports one.
#pragma once

#include <cstdint>
#include <string_view>

namespace keel::sampling {

enum class FinishReason : uint8_t {
  kNone,    // still generating
  kStop,    // EOS token, stop token id or stop string ("stop")
  kLength,  // max_new_tokens reached, or the context window is full ("length")
  kAbort,   // ended by the caller: cancelled, deadline, error ("abort", as vLLM)
};

// The detail behind a FinishReason.
enum class StopCause : uint8_t {
  kNone,
  kEosToken,      // FinishInfo::token_id is the EOS id
  kStopToken,     // FinishInfo::token_id is the stop_token_ids entry
  kStopString,    // FinishInfo::stop_string_index into StopParams::stop_strings
  kMaxNewTokens,  // max_new_tokens tokens were generated
  kCaller,        // StopChecker::finish() ended it with the caller's reason
};

struct FinishInfo {
  FinishReason reason = FinishReason::kNone;
  StopCause cause = StopCause::kNone;
  int32_t token_id = -1;           // kEosToken / kStopToken
  int32_t stop_string_index = -1;  // kStopString
};

// OpenAI's finish_reason: "stop", "length", "abort"; "" for kNone (JSON null).
std::string_view finish_reason_name(FinishReason reason);
// "eos_token", "stop_token", "stop_string", "max_new_tokens", "caller", "none".
std::string_view stop_cause_name(StopCause cause);

}  // namespace keel::sampling
