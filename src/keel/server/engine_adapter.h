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
#include "keel/tokenizer/tokenizer.h"

namespace keel::server {

class EngineAdapter final : public EngineInterface {
 public:
  // `tokenize_timeout` bounds each tokenize/detokenize (they run on the
  // core pool; DeadlineExceeded → 504 past it).
  EngineAdapter(engine::Engine& engine, tokenizer::Tokenizer tokenizer, ModelInfo info,
                std::chrono::milliseconds tokenize_timeout = std::chrono::seconds(30));

  ModelInfo model_info() const override { return info_; }
  Result<std::vector<int32_t>> tokenize(std::string_view text) const override;
  Result<std::string> detokenize(std::span<const int32_t> ids) const override;
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
  mutable std::mutex mu_;
  std::string not_ready_reason_;  // guarded by mu_; empty: ready
  MemoryState memory_;            // guarded by mu_
};

// The engine's final output in the server's terms.
GenerationFinal to_generation_final(const engine::RequestFinal& f);

}  // namespace keel::server
