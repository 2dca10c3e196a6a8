#include "keel/engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "keel/core/logging.h"
#include "keel/memory/block_table.h"
#include "keel/sampling/sampler.h"
#include "keel/tokenizer/stream_decoder.h"

namespace keel::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Returns a sequence's blocks to the pool on every exit path.
class SequenceBlocks {
 public:
  SequenceBlocks(memory::KvBlockPool& pool, int64_t max_tokens)
      : pool_(pool), table_(pool.shape().block_size_tokens, max_tokens) {}
  ~SequenceBlocks() {
    Status s = table_.release(pool_);
    if (!s.ok()) KEEL_LOG_ERROR("releasing KV blocks: {}", s.to_string());
  }
  memory::BlockTable& table() { return table_; }

 private:
  memory::KvBlockPool& pool_;
  memory::BlockTable table_;
};

Status check_lengths(GenerateRequest& r, const model::Runtime& rt, GenerateResult& out) {
  const auto prompt = static_cast<int64_t>(r.prompt_ids.size());
  const int64_t window = rt.model->max_context_tokens();
  if (prompt == 0) return InvalidArgumentError("the prompt is empty; give at least one token");
  if (prompt >= window) {
    return InvalidArgumentError(
        "the prompt has {} tokens but the context window is {} tokens, leaving no room to "
        "generate; shorten the prompt or raise --max-context",
        prompt, window);
  }
  for (size_t i = 0; i < r.prompt_ids.size(); ++i) {
    if (r.prompt_ids[i] < 0 || r.prompt_ids[i] >= rt.config.vocab_size) {
      return InvalidArgumentError("prompt token {} (index {}) is outside the vocabulary [0, {})",
                                  r.prompt_ids[i], i, rt.config.vocab_size);
    }
  }
  const int64_t room = window - prompt;
  if (r.stop.min_new_tokens > room) {
    return InvalidArgumentError(
        "min_new_tokens {} cannot be honoured: the prompt has {} tokens and the context window "
        "is {}, so at most {} can be generated",
        r.stop.min_new_tokens, prompt, window, room);
  }
  if (r.stop.max_new_tokens > room) {
    out.adjustments.push_back(fmt::format(
        "max_new_tokens lowered from {} to {}: prompt {} tokens, context window {}",
        r.stop.max_new_tokens, room, prompt, window));
    KEEL_LOG_INFO("{}", out.adjustments.back());
    r.stop.max_new_tokens = room;
  }
  const memory::KvBlockPool& pool = *rt.kv_pool;
  const int64_t must_hold = prompt + r.stop.min_new_tokens;
  if (pool.shape().blocks_for_tokens(must_hold) > pool.num_total()) {
    return ResourceExhaustedError(
        "prompt {} + min_new_tokens {} = {} tokens need {} KV blocks; the pool has {} ({} tokens)",
        prompt, r.stop.min_new_tokens, must_hold, pool.shape().blocks_for_tokens(must_hold),
        pool.num_total(), pool.num_total() * pool.shape().block_size_tokens);
  }
  return OkStatus();
}

}  // namespace

double GenerateTimings::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0;
}

double GenerateTimings::decode_tokens_per_second() const {
  return decode_seconds > 0 ? static_cast<double>(decode_steps) / decode_seconds : 0;
}

std::vector<int32_t> eos_ids(const model::Runtime& rt, const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> ids = rt.config.eos_token_ids;
  ids.insert(ids.end(), rt.generation.eos_token_ids.begin(), rt.generation.eos_token_ids.end());
  if (auto e = tok.eos_id()) ids.push_back(static_cast<int32_t>(*e));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::erase_if(ids, [&](int32_t id) { return id < 0 || id >= rt.config.vocab_size; });
  return ids;
}

Result<GenerateResult> generate(model::Runtime& rt, const tokenizer::Tokenizer& tok,
                                GenerateRequest request, const TextCallback& on_text) {
  GenerateResult out;
  KEEL_RETURN_IF_ERROR(check_lengths(request, rt, out));
  const int64_t vocab = rt.config.vocab_size;
  KEEL_ASSIGN_OR_RETURN(sampling::Sampler sampler, sampling::Sampler::create(request.sampling, vocab));
  KEEL_RETURN_IF_ERROR(sampler.set_prompt(request.prompt_ids));
  KEEL_ASSIGN_OR_RETURN(sampling::StopChecker stop,
                        sampling::StopChecker::create(request.stop, vocab));
  out.seed = sampler.seed();
  tokenizer::StreamDecoder decoder(tok, /*skip_special_tokens=*/true);
  const std::vector<int32_t>& prompt = request.prompt_ids;
  const auto prompt_len = static_cast<int64_t>(prompt.size());
  out.timings.prompt_tokens = prompt_len;
  SequenceBlocks blocks(*rt.kv_pool, prompt_len + request.stop.max_new_tokens);
  std::vector<float> logits(static_cast<size_t>(vocab));  // (vocab), the sampler edits it

  auto step = [&](std::span<const int32_t> tokens, int64_t start, bool want_logits) -> Status {
    KEEL_RETURN_IF_ERROR(
        blocks.table().append_tokens(static_cast<int64_t>(tokens.size()), *rt.kv_pool));
    model::SequenceStep s;
    s.tokens = tokens;
    s.start_pos = start;
    s.block_table = blocks.table().blocks();
    s.logits = want_logits ? model::LogitsWanted::kLast : model::LogitsWanted::kNone;
    KEEL_ASSIGN_OR_RETURN(std::span<const float> l, rt.model->forward({&s, 1}, *rt.kv_pool));
    if (want_logits) std::copy(l.begin(), l.end(), logits.begin());
    return OkStatus();
  };
  auto emit = [&](std::string_view text) {
    if (text.empty()) return;
    out.text += text;
    if (on_text) on_text(text);
  };

  // Prefill in chunks of the model's step size.
  const auto t0 = Clock::now();
  const int64_t chunk = rt.model->options().max_batch_tokens;
  for (int64_t pos = 0; pos < prompt_len; pos += chunk) {
    const int64_t n = std::min(chunk, prompt_len - pos);
    KEEL_RETURN_IF_ERROR(step(std::span<const int32_t>(prompt).subspan(static_cast<size_t>(pos),
                                                                      static_cast<size_t>(n)),
                              pos, pos + n == prompt_len));
  }
  out.timings.prefill_seconds = seconds(Clock::now() - t0);

  const auto t1 = Clock::now();
  int64_t pos = prompt_len;
  while (true) {
    KEEL_ASSIGN_OR_RETURN(int32_t token, sampler.sample(logits, stop.suppressed_token_ids()));
    KEEL_RETURN_IF_ERROR(sampler.accept(token));
    out.token_ids.push_back(token);
    KEEL_ASSIGN_OR_RETURN(std::string delta, decoder.step(static_cast<uint32_t>(token)));
    sampling::StepResult r = stop.on_token(token, delta);
    emit(r.text);
    if (r.finished) {  // the checker has released all it held back
      out.finish = r.finish;
      break;
    }
    if (pos + 1 >= rt.model->max_context_tokens()) {  // no room for another token
      KEEL_ASSIGN_OR_RETURN(std::string tail, decoder.finish());
      sampling::StepResult end = stop.finish(sampling::FinishReason::kLength, tail);
      emit(end.text);
      out.finish = end.finish;
      break;
    }
    KEEL_RETURN_IF_ERROR(step({&token, 1}, pos, true));
    ++pos;
    ++out.timings.decode_steps;
  }
  out.timings.decode_seconds = seconds(Clock::now() - t1);
  out.timings.generated_tokens = static_cast<int64_t>(out.token_ids.size());
  return out;
}

}  // namespace keel::engine
