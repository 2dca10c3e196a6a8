// OpenAI request parsing: JSON text → a typed, validated request, or an
// ApiError naming the field (`param`), what was wrong and the allowed range:
//   {"param": "top_p", "message": "top_p must be a number in (0, 1], got 1.5"}
//
// Semantics follow OpenAI's /v1/completions, with vLLM's extensions
// (top_k, min_p, repetition_penalty, min_tokens, ignore_eos, stop_token_ids,
// include_stop_str_in_output) and keel's `timeout` (seconds) and
// `strict_max_tokens`.
// - null means "not set" for every optional field (OpenAI's convention).
// - max_tokens: absent → 16 (OpenAI's default); null → the rest of the
//   context window; otherwise >= 1.
// - Unknown fields are errors, except a small allow-list of OpenAI fields
//   with harmless values: user (any string), suffix (null or ""), best_of
//   (null or equal to n), logprobs (null or false-y: only null).
// - logprobs != null and suffix != "" are rejected as "not supported yet".
// GenerationOptions is shared with chat: ChatCompletionRequest is
// {model, messages, tools, ..., GenerationOptions}, its options parsed by
// the same code.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "keel/sampling/sampling_params.h"
#include "keel/sampling/stop_checker.h"
#include "keel/server/api_error.h"

namespace keel::server {

inline constexpr int64_t kDefaultMaxTokens = 16;

// A prompt as the client sent it: text, or token ids.
struct Prompt {
  std::optional<std::string> text;  // set for a text prompt
  std::vector<int32_t> token_ids;   // set for a token prompt
};

// What to generate and how; shared by completions and (later) chat.
struct GenerationOptions {
  std::optional<int64_t> max_tokens = kDefaultMaxTokens;  // nullopt: rest of window
  int64_t min_tokens = 0;
  sampling::SamplingParams sampling;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  // keel: refuse (400) a max_tokens that does not fit the context window
  // or the KV pool instead of lowering it.
  bool strict_max_tokens = false;
  int32_t n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::optional<double> timeout_seconds;
  std::string user;
};

struct CompletionRequest {
  std::string model;
  std::vector<Prompt> prompts;  // at least one
  bool echo = false;
  GenerationOptions options;
};

// POST /v1/chat/completions. Differences from completions: max_tokens
// (or max_completion_tokens) absent → the rest of the context window, as
// OpenAI and vLLM; logprobs false is accepted.
struct ChatCompletionRequest {
  std::string model;
  // Validated messages as the template receives them: roles system / user /
  // assistant / tool, content a string (text parts joined with "\n") or
  // null; tool_calls, tool_call_id, name and unknown keys passed through.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::optional<nlohmann::ordered_json> tools;        // array of objects
  std::optional<nlohmann::ordered_json> tool_choice;  // "none" | "auto" | object
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  bool add_generation_prompt = true;
  GenerationOptions options;
};

struct ProtocolLimits {
  int64_t vocab_size = 0;  // token ids must be in [0, vocab_size)
  int32_t max_n = 16;
  size_t max_prompts = 64;
  int64_t max_choices = 64;  // prompts × n
  size_t max_stop = sampling::kMaxStopStrings;
  size_t max_stop_token_ids = 64;
  size_t max_logit_bias = 1024;
  double max_timeout_seconds = 3600;
  size_t max_messages = 4096;
};

// A parsed value or the error that stopped parsing.
template <typename T>
struct Parsed {
  std::optional<T> value;
  ApiError error;
  bool ok() const { return value.has_value(); }
};

Parsed<CompletionRequest> parse_completion_request(std::string_view body,
                                                   const ProtocolLimits& limits);
Parsed<ChatCompletionRequest> parse_chat_completion_request(std::string_view body,
                                                            const ProtocolLimits& limits);

}  // namespace keel::server
