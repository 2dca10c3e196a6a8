// EngineAdapter: the real engine (engine::Engine over a model) behind the
// server's EngineInterface. It converts requests and outputs between the two
// vocabularies and adds what the engine does not know: the model's public
// name, the tokenizer for prompts and echo, and readiness.
//
// Ownership: the adapter refers to an Engine it does not own; the Engine
// (and the executor under it) must outlive the adapter and every HttpServer
// that holds it. Stop the HTTP server first, then the engine loop.
// Thread-safety: every method may be called from any thread (the Engine's
// submit/cancel/stats are thread-safe; the Tokenizer is immutable).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "keel/engine/engine.h"
#include "keel/server/engine_interface.h"
#include "keel/template/chat_template.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::server {

class EngineAdapter final : public EngineInterface {
 public:
  // `tokenize_timeout` bounds each tokenize/detokenize (they run on the
  // core pool; DeadlineExceeded → 504 past it).
  // `chat_template`: the model's (load_chat_template(model dir)); an error
  // (NotFound: the model has none; a template that does not compile) is
  // what /v1/chat/completions answers (400) — completions work regardless.
  EngineAdapter(engine::Engine& engine, tokenizer::Tokenizer tokenizer, ModelInfo info,
                std::chrono::milliseconds tokenize_timeout = std::chrono::seconds(30),
                Result<jinja::ChatTemplate> chat_template = NotFoundError("no chat template"));

  ModelInfo model_info() const override { return info_; }
  Result<std::vector<int32_t>> tokenize(std::string_view text) const override;
  Result<std::string> detokenize(std::span<const int32_t> ids) const override;
  Result<std::string> render_chat(const ChatRenderRequest& request) const override;
  Result<std::vector<int32_t>> tokenize_chat(std::string_view text) const override;
  std::vector<int32_t> chat_stop_token_ids() const override { return chat_stop_ids_; }
  Result<std::string> submit(GenerationRequest request, std::shared_ptr<OutputSink> sink) override;
  Status cancel(std::string_view request_id) override;
  EngineSnapshot snapshot() const override;

  // Closes admission (/ready answers 503 with `reason`) until reopened with
  // an empty reason: draining before shutdown.
  void set_not_ready(std::string reason);

  // The memory monitor's latest view (its listener calls this on every
  // level change). Warning: /ready says "degraded" with the reason and
  // requests are still admitted. Critical: submits are refused (503 +
  // Retry-After, the reason) until the level falls, and /ready is 503.
  struct MemoryState {
    int level = 0;  // 0 normal, 1 warning, 2 critical
    std::string reason;
    std::vector<std::pair<std::string, double>> usage;  // resource, fraction
  };
  void set_memory_state(MemoryState state);

 private:
  template <typename T, typename Fn>
  Result<T> run_tokenizer_job(std::string_view what, Fn fn) const;

  engine::Engine& engine_;
  const tokenizer::Tokenizer tokenizer_;
  const ModelInfo info_;
  const std::chrono::milliseconds tokenize_timeout_;
  const Result<jinja::ChatTemplate> chat_template_;
  std::vector<int32_t> chat_stop_ids_;  // set once in the constructor
  mutable std::mutex mu_;
  std::string not_ready_reason_;  // guarded by mu_; empty: ready
  MemoryState memory_;            // guarded by mu_
};

// The ids that end an assistant turn: the template's eos_token and the known
// end-of-turn tokens (<|im_end|>, <|eot_id|>, <|end_of_turn|>,
// <end_of_turn>, <|end|>, </s>) that `tokenizer` has, without duplicates.
std::vector<int32_t> end_of_turn_ids(const tokenizer::Tokenizer& tokenizer,
                                     const jinja::ChatTemplate* chat_template);

// The engine's final output in the server's terms.
GenerationFinal to_generation_final(const engine::RequestFinal& f);

}  // namespace keel::server
