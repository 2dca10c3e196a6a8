// OpenAI response builders: JSON text for completions, SSE chunks, usage,
// errors, the model list, and the SSE framing. Pure functions.
//
// The keel extension rides in each choice and in usage:
//   choice.keel = {"finish_detail": "memory_pressure" | "timeout" | ... | null,
//                  "preemptions": 0, "adjustments": ["..."], "seed": 42}
//   usage.keel  = {"preemptions": 0, "queue_seconds": 0.001,
//                  "ttft_seconds": 0.02, "e2e_seconds": 0.3}
// Invalid UTF-8 in generated text is replaced with U+FFFD, never an error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keel/sampling/finish_reason.h"
#include "keel/server/api_error.h"
#include "keel/server/engine_interface.h"

namespace keel::server {

// What one choice ended with (the keel extension included).
struct ChoiceEnd {
  sampling::FinishReason finish_reason = sampling::FinishReason::kNone;
  std::string finish_detail;  // "" → null
  int64_t preemptions = 0;
  std::vector<std::string> adjustments;
  std::optional<uint64_t> seed;
};

struct ChoiceResult {
  int64_t index = 0;
  std::string text;
  ChoiceEnd end;
};

struct UsageInfo {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t preemptions = 0;
  double queue_seconds = 0;  // the longest of the choices
  double ttft_seconds = 0;   // the first token of any choice
  double e2e_seconds = 0;    // the last choice to finish
};

// Identity shared by a response and all its chunks.
struct CompletionIds {
  std::string id;  // "cmpl-..."
  int64_t created_unix_seconds = 0;
  std::string model;
};

ChoiceEnd choice_end_from(const GenerationFinal& final_info);

// {"id", "object": "text_completion", "created", "model", "choices": [...],
//  "usage": {...}}
std::string completion_response_json(const CompletionIds& ids,
                                     std::span<const ChoiceResult> choices, const UsageInfo& usage);

// One streamed chunk for choice `index`: text so far unsent, and, on the
// choice's last chunk, its end. With include_usage every chunk carries
// "usage": null (OpenAI's convention).
std::string completion_chunk_json(const CompletionIds& ids, int64_t index, std::string_view text,
                                  const ChoiceEnd* end, bool include_usage);
// The final usage chunk: "choices": [] and "usage".
std::string usage_chunk_json(const CompletionIds& ids, const UsageInfo& usage);

// Chat. {"id": "chatcmpl-...", "object": "chat.completion", ..., "choices":
// [{"index", "message": {"role": "assistant", "content"}, "logprobs": null,
// "finish_reason", "keel"}], "usage"}; ChoiceResult::text is the content.
std::string chat_response_json(const CompletionIds& ids, std::span<const ChoiceResult> choices,
                               const UsageInfo& usage);
// One "chat.completion.chunk" for choice `index`: the delta is
// {"role": "assistant", "content": ""} when `role_chunk`, else
// {"content": text} (or {} on the last chunk without text), with
// finish_reason and keel when `end`.
std::string chat_chunk_json(const CompletionIds& ids, int64_t index, bool role_chunk,
                            std::string_view text, const ChoiceEnd* end, bool include_usage);
// The final usage chunk of a chat stream.
std::string chat_usage_chunk_json(const CompletionIds& ids, const UsageInfo& usage);

// {"error": {"message", "type", "param", "code"}}
std::string error_json(const ApiError& error);

// GET /v1/models and /v1/models/{id}.
std::string model_json(const ModelInfo& model);
std::string model_list_json(const ModelInfo& model);

// SSE framing: "data: <payload>\n\n".
std::string sse_event(std::string_view payload);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace keel::server
