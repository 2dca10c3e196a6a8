#include "keel/server/completion_channel.h"

#include "keel/core/check.h"
#include "keel/server/server_metrics.h"

namespace keel::server {
namespace {

class ChoiceSink final : public OutputSink {
 public:
  ChoiceSink(std::shared_ptr<CompletionChannel> channel, size_t index)
      : channel_(std::move(channel)), index_(index) {}
  void on_output(std::string_view text, std::span<const int32_t> token_ids) override {
    channel_->push(index_, text, token_ids.size());
  }
  void on_final(GenerationFinal final_info) override {
    channel_->finish(index_, std::move(final_info));
  }

 private:
  std::shared_ptr<CompletionChannel> channel_;
  size_t index_;
};

}  // namespace

std::shared_ptr<CompletionChannel> CompletionChannel::create(
    size_t num_choices, std::shared_ptr<ServerMetrics> metrics) {
  return std::shared_ptr<CompletionChannel>(new CompletionChannel(num_choices, std::move(metrics)));
}

CompletionChannel::CompletionChannel(size_t num_choices, std::shared_ptr<ServerMetrics> metrics)
    : metrics_(std::move(metrics)), choices_(num_choices) {}

std::shared_ptr<OutputSink> CompletionChannel::sink(size_t index) {
  KEEL_CHECK_LT(index, choices_.size());
  return std::make_shared<ChoiceSink>(shared_from_this(), index);
}

void CompletionChannel::push(size_t index, std::string_view text, size_t num_tokens) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Choice& c = choices_[index];
    if (c.final_received) return;  // an engine bug; never reorder after the final
    c.text.append(text);
    c.num_tokens += static_cast<int64_t>(num_tokens);
    c.dirty = true;
    pending_ = true;
  }
  cv_.notify_all();
}

void CompletionChannel::finish(size_t index, GenerationFinal final_info) {
  if (metrics_) metrics_->on_choice_finished(final_info);
  {
    std::lock_guard<std::mutex> lock(mu_);
    Choice& c = choices_[index];
    if (c.final_received) return;  // exactly once; ignore a second final
    c.final_received = true;
    c.final_info = std::move(final_info);
    c.dirty = true;
    pending_ = true;
  }
  cv_.notify_all();
}

std::vector<CompletionChannel::Update> CompletionChannel::wait_take(Deadline deadline) {
  std::vector<Update> out;
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_until(lock, deadline.at(), [this] { return pending_; })) return out;
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    if (!c.dirty) continue;
    Update u;
    u.index = i;
    u.text = std::move(c.text);
    c.text.clear();
    u.num_tokens = c.num_tokens;
    c.num_tokens = 0;
    if (c.final_received && !c.final_taken) {
      u.final_info = std::move(c.final_info);
      c.final_taken = true;
    }
    c.dirty = false;
    out.push_back(std::move(u));
  }
  pending_ = false;
  return out;
}

size_t CompletionChannel::num_finished_taken() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const Choice& c : choices_) n += c.final_taken ? 1 : 0;
  return n;
}

}  // namespace keel::server
