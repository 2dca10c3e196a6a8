// CompletionChannel: where the engine delivers one HTTP request's output
// (one OutputSink per choice) and what the HTTP thread waits on.
//
// The engine side (sinks) only appends under a mutex and notifies; it never
// waits. The HTTP side takes everything pending with a bounded wait
// (wait_take), so it can check for a vanished client, a server shutdown and
// the request's deadline between waits. Output coalesces: a slow reader gets
// bigger deltas; memory is bounded by the choices' max_tokens.
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "keel/core/clock.h"
#include "keel/server/engine_interface.h"

namespace keel::server {

class ServerMetrics;

class CompletionChannel : public std::enable_shared_from_this<CompletionChannel> {
 public:
  // `metrics` (may be null) records each choice's final as it arrives, even
  // when nobody reads it any more.
  static std::shared_ptr<CompletionChannel> create(size_t num_choices,
                                                   std::shared_ptr<ServerMetrics> metrics);

  // The sink for choice `index` (< num_choices); holds the channel alive.
  std::shared_ptr<OutputSink> sink(size_t index);

  struct Update {
    size_t index = 0;
    std::string text;
    int64_t num_tokens = 0;
    std::optional<GenerationFinal> final_info;  // set once, on the choice's last update
  };
  // Waits until output is pending or `deadline` passes, then takes all of it
  // (in choice order). Empty on timeout.
  std::vector<Update> wait_take(Deadline deadline);

  size_t num_choices() const { return choices_.size(); }
  // Choices whose final has been taken by wait_take.
  size_t num_finished_taken() const;

  // Sink side.
  void push(size_t index, std::string_view text, size_t num_tokens);
  void finish(size_t index, GenerationFinal final_info);

 private:
  CompletionChannel(size_t num_choices, std::shared_ptr<ServerMetrics> metrics);

  struct Choice {
    std::string text;
    int64_t num_tokens = 0;
    std::optional<GenerationFinal> final_info;
    bool final_received = false;
    bool final_taken = false;
    bool dirty = false;
  };

  const std::shared_ptr<ServerMetrics> metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Choice> choices_;  // guarded by mu_ (the size is fixed)
  bool pending_ = false;         // guarded by mu_
};

}  // namespace keel::server
