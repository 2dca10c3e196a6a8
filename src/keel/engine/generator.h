// generate(): one request, alone, from prompt ids to finished text — the
// path `keel generate` uses, and the reference the batching engine's output
// is compared with.
//
// Steps: validate lengths against the context window and the KV pool;
// prefill the prompt in chunks of the model's max batch tokens; then sample,
// stream-decode, check stops and run one decode step per token until a stop,
// max_new_tokens, or the end of the context window. The prompt's KV blocks
// are taken up front (all or nothing) and every block is returned to the
// pool on every exit path.
//
// Generation-length rules (reported in GenerateResult::adjustments):
// - prompt length >= the context window: InvalidArgument with both numbers;
// - max_new_tokens larger than what is left of the window: lowered to fit
//   (the result says so) — as vLLM/lmdeploy do for max_tokens;
// - min_new_tokens larger than what is left: InvalidArgument (it can never
//   be honoured);
// - the KV pool cannot hold prompt + min_new_tokens: ResourceExhausted with
//   the numbers (it never waits).
// Thread-safety: uses the runtime's model and pool from the calling thread
// only; not reentrant on one Runtime.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"
#include "keel/model/runtime.h"
#include "keel/sampling/finish_reason.h"
#include "keel/sampling/sampling_params.h"
#include "keel/sampling/stop_checker.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::engine {

struct GenerateRequest {
  std::vector<int32_t> prompt_ids;
  sampling::SamplingParams sampling;
  sampling::StopParams stop;  // eos_ids: the model's (see eos_ids())
};

struct GenerateTimings {
  double prefill_seconds = 0;  // prompt through the model, first logits ready
  double decode_seconds = 0;   // every later step
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t decode_steps = 0;    // forward passes after the prefill
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

struct GenerateResult {
  std::vector<int32_t> token_ids;  // generated, EOS/stop token included when sampled
  std::string text;                // what was streamed
  sampling::FinishInfo finish;
  std::vector<std::string> adjustments;  // e.g. "max_new_tokens lowered from 9000 to 3968 ..."
  uint64_t seed = 0;
  GenerateTimings timings;
};

// Receives text as it becomes final (never a partial UTF-8 character).
using TextCallback = std::function<void(std::string_view)>;

// The model's EOS ids: config.json's and generation_config.json's, and the
// tokenizer's eos token, without duplicates.
std::vector<int32_t> eos_ids(const model::Runtime& runtime, const tokenizer::Tokenizer& tokenizer);

Result<GenerateResult> generate(model::Runtime& runtime, const tokenizer::Tokenizer& tokenizer,
                                GenerateRequest request, const TextCallback& on_text = {});

}  // namespace keel::engine
