// FakeEngine: a scripted EngineInterface for the server tests. A loop thread
// plays each request's script (text pieces with delays, a failure after k
// tokens, holding a stream open until cancelled), honours stop strings,
// max_new_tokens and timeouts the way the engine contract says, and
// records what it was asked (submits, cancels with times).
// Tokenizer: one id per byte (byte + 3), BOS = 1 first; vocab 50,000.
// Chat "template": "<tools>JSON</tools>\n" when tools, "<kw K=JSON>\n" per
// kwarg, "<|role|>content[calls:JSON]\n" per message, "<|assistant|>" with
// add_generation_prompt; a message whose content is "RAISE" raises.
// tokenize_chat adds no BOS; chat stop ids are {2}.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "keel/server/engine_interface.h"

namespace keel::server::testing {

struct FakeScript {
  std::vector<std::string> pieces;  // token texts, cycled; empty: "tok0 ", "tok1 ", ...
  std::chrono::milliseconds token_delay{0};
  std::chrono::milliseconds first_token_delay{0};
  bool hold_open = false;            // never ends on its own (cancel or timeout ends it)
  std::optional<size_t> fail_after;  // after this many tokens: a final with fail_status
  Status fail_status = InternalError("injected step failure");
  std::string finish_detail;  // reported with a normal end
  int64_t preemptions = 0;
  std::vector<std::string> adjustments;
};

// make_script([](FakeScript& s) { s.hold_open = true; })
template <typename F>
FakeScript make_script(F f) {
  FakeScript s;
  f(s);
  return s;
}

class FakeEngine final : public EngineInterface {
 public:
  using Clock = std::chrono::steady_clock;

  FakeEngine() : loop_([this](std::stop_token st) { run(st); }) {}
  ~FakeEngine() override {
    loop_.request_stop();
    cv_.notify_all();
  }

  // Configuration (any time).
  void set_script(std::function<FakeScript(const GenerationRequest&)> f) {
    std::lock_guard<std::mutex> lock(mu_);
    script_fn_ = std::move(f);
  }
  void set_script(FakeScript s) {
    set_script([s](const GenerationRequest&) { return s; });
  }
  void refuse_submits(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_ = std::move(s);
  }
  void set_heartbeat_age(std::optional<std::chrono::milliseconds> age) {
    std::lock_guard<std::mutex> lock(mu_);
    heartbeat_age_ = age;
  }
  void set_ready(bool ready, std::string reason = "") {
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = ready;
    not_ready_reason_ = std::move(reason);
  }
  void set_retry_after(int64_t s) { retry_after_ = s; }

  void set_has_chat_template(bool has) {
    std::lock_guard<std::mutex> lock(mu_);
    has_chat_template_ = has;
  }

  // Observations.
  std::vector<ChatRenderRequest> renders() const {
    std::lock_guard<std::mutex> lock(mu_);
    return renders_;
  }
  std::vector<GenerationRequest> submitted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return submitted_;
  }
  std::vector<std::pair<std::string, Clock::time_point>> cancels() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancels_;
  }
  size_t num_live() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }

  // EngineInterface.
  ModelInfo model_info() const override { return {"fake-model", 50'000, 4096, 1'700'000'000}; }
  Result<std::vector<int32_t>> tokenize(std::string_view text) const override {
    if (text.find('\x01') != std::string_view::npos) {
      return InvalidArgumentError("byte 0x01 cannot be tokenized");
    }
    std::vector<int32_t> ids{1};
    for (unsigned char c : text) ids.push_back(static_cast<int32_t>(c) + 3);
    return ids;
  }
  Result<std::string> detokenize(std::span<const int32_t> ids) const override {
    std::string out;
    for (int32_t id : ids) {
      if (id >= 3 && id < 259) out += static_cast<char>(id - 3);
    }
    return out;
  }
  Result<std::string> render_chat(const ChatRenderRequest& request) const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_chat_template_) {
      return NotFoundError("this model has no chat template; use /v1/completions");
    }
    renders_.push_back(request);
    std::string out;
    if (request.tools) out += "<tools>" + request.tools->dump() + "</tools>\n";
    for (const auto& [k, v] : request.kwargs.items()) out += "<kw " + k + "=" + v.dump() + ">\n";
    for (const auto& m : request.messages) {
      const auto& content = m.contains("content") ? m["content"] : nlohmann::ordered_json();
      if (content.is_string() && content.get<std::string>() == "RAISE") {
        return InvalidArgumentError("Conversation roles must alternate user/assistant");
      }
      out += "<|" + m["role"].get<std::string>() + "|>";
      if (content.is_string()) out += content.get<std::string>();
      if (m.contains("tool_calls")) out += "[calls:" + m["tool_calls"].dump() + "]";
      out += "\n";
    }
    if (request.add_generation_prompt) out += "<|assistant|>";
    return out;
  }
  Result<std::vector<int32_t>> tokenize_chat(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (unsigned char c : text) ids.push_back(static_cast<int32_t>(c) + 3);
    return ids;
  }
  std::vector<int32_t> chat_stop_token_ids() const override { return {2}; }
  Result<std::string> submit(GenerationRequest request, std::shared_ptr<OutputSink> sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!refuse_.ok()) return refuse_;
    auto r = std::make_unique<Live>();
    r->script = script_fn_ ? script_fn_(request) : FakeScript{};
    r->sink = std::move(sink);
    r->submitted = Clock::now();
    r->next_at = r->submitted + r->script.first_token_delay;
    r->max_tokens = request.max_new_tokens.value_or(64);
    r->request = request;
    submitted_.push_back(request);
    std::string id = request.id;
    live_[id] = std::move(r);
    cv_.notify_all();
    return id;
  }
  Status cancel(std::string_view id) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancels_.emplace_back(std::string(id), Clock::now());
    auto it = live_.find(std::string(id));
    if (it == live_.end()) return NotFoundError("no live request {}", id);
    it->second->cancelled = true;
    cv_.notify_all();
    return OkStatus();
  }
  EngineSnapshot snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    EngineSnapshot s;
    s.num_running = static_cast<int64_t>(live_.size());
    s.num_waiting = 0;
    s.kv_blocks_used = static_cast<int64_t>(live_.size());
    s.kv_blocks_total = 1024;
    s.num_preemptions = 3;
    s.heartbeat_age = heartbeat_age_;
    s.ready = ready_;
    s.not_ready_reason = not_ready_reason_;
    s.retry_after_seconds = retry_after_;
    s.retry_after_ms = retry_after_ * 1000 - 500;
    return s;
  }

 private:
  struct Live {
    GenerationRequest request;
    FakeScript script;
    std::shared_ptr<OutputSink> sink;
    Clock::time_point submitted;
    Clock::time_point next_at;
    Clock::time_point first_token{};
    int64_t max_tokens = 0;
    size_t emitted = 0;
    std::string text;
    bool cancelled = false;
  };

  // Plays one step of `r`; true when it ended.
  static bool step(Live& r, Clock::time_point now) {
    auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    auto end = [&](Status status, sampling::FinishReason reason, std::string detail) {
      GenerationFinal f;
      f.status = std::move(status);
      f.finish_reason = reason;
      f.finish_detail = std::move(detail);
      f.prompt_tokens = static_cast<int64_t>(r.request.prompt_ids.size());
      f.completion_tokens = static_cast<int64_t>(r.emitted);
      f.num_preemptions = r.script.preemptions;
      f.queue_seconds = 0.001;
      if (r.emitted > 0) {
        f.ttft_seconds = seconds(r.first_token - r.submitted);
        if (r.emitted > 1) f.tpot_seconds = seconds(now - r.first_token) / double(r.emitted - 1);
      }
      f.e2e_seconds = seconds(now - r.submitted);
      f.adjustments = r.script.adjustments;
      f.seed = r.request.sampling.seed.value_or(7);
      r.sink->on_final(std::move(f));
      return true;
    };
    using FR = sampling::FinishReason;
    if (r.cancelled) return end(OkStatus(), FR::kAbort, "cancelled");
    if (r.request.timeout && now - r.submitted >= *r.request.timeout) {
      return end(OkStatus(), FR::kAbort, "timeout");
    }
    if (now < r.next_at) return false;
    if (r.script.fail_after && r.emitted >= *r.script.fail_after) {
      return end(r.script.fail_status, FR::kAbort, "error");
    }
    if (r.script.hold_open && static_cast<int64_t>(r.emitted) >= r.max_tokens - 1) return false;
    std::string piece = r.script.pieces.empty()
                            ? "tok" + std::to_string(r.emitted) + " "
                            : r.script.pieces[r.emitted % r.script.pieces.size()];
    int32_t id = 100 + static_cast<int32_t>(r.emitted);
    if (r.emitted == 0) r.first_token = now;
    ++r.emitted;
    r.next_at = now + r.script.token_delay;
    // Stop strings: the earliest match in the text ends the request.
    std::string before = r.text;
    r.text += piece;
    size_t best = std::string::npos, best_len = 0;
    for (const std::string& s : r.request.stop.stop_strings) {
      size_t at = r.text.find(s);
      if (at != std::string::npos && at < best) best = at, best_len = s.size();
    }
    if (best != std::string::npos) {
      size_t keep = best + (r.request.stop.include_stop_str_in_output ? best_len : 0);
      std::string out =
          keep > before.size() ? r.text.substr(before.size(), keep - before.size()) : std::string();
      int32_t ids[] = {id};
      r.sink->on_output(out, ids);
      return end(OkStatus(), FR::kStop, r.script.finish_detail);
    }
    int32_t ids[] = {id};
    r.sink->on_output(piece, ids);
    if (!r.script.hold_open && static_cast<int64_t>(r.emitted) >= r.max_tokens) {
      return end(OkStatus(), FR::kLength, r.script.finish_detail);
    }
    return false;
  }

  void run(std::stop_token st) {
    while (!st.stop_requested()) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(2));
      auto now = Clock::now();
      for (auto it = live_.begin(); it != live_.end();) {
        if (step(*it->second, now)) {
          it = live_.erase(it);
        } else {
          ++it;
        }
      }
    }
    // Shutdown: every live request ends.
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, r] : live_) {
      GenerationFinal f;
      f.status = UnavailableError("engine shut down");
      f.finish_detail = "shutdown";
      r->sink->on_final(std::move(f));
    }
    live_.clear();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::function<FakeScript(const GenerationRequest&)> script_fn_;
  Status refuse_;
  std::optional<std::chrono::milliseconds> heartbeat_age_{std::chrono::milliseconds(5)};
  bool ready_ = true;
  std::string not_ready_reason_;
  std::atomic<int64_t> retry_after_{2};
  std::map<std::string, std::unique_ptr<Live>> live_;
  std::vector<GenerationRequest> submitted_;
  bool has_chat_template_ = true;
  mutable std::vector<ChatRenderRequest> renders_;
  std::vector<std::pair<std::string, Clock::time_point>> cancels_;
  std::jthread loop_;  // last: stops before the state above is destroyed
};

}  // namespace keel::server::testing
