#include "keel/sampling/finish_reason.h"

namespace keel::sampling {

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
  }
  return "";
}

std::string_view stop_cause_name(StopCause cause) {
  switch (cause) {
    case StopCause::kNone:
      return "none";
    case StopCause::kEosToken:
      return "eos_token";
    case StopCause::kStopToken:
      return "stop_token";
    case StopCause::kStopString:
      return "stop_string";
    case StopCause::kMaxNewTokens:
      return "max_new_tokens";
    case StopCause::kCaller:
      return "caller";
  }
  return "none";
}

}  // namespace keel::sampling
