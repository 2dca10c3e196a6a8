#include "keel/engine/fake_executor.h"

#include <algorithm>
#include <numeric>

#include "keel/core/fault.h"

namespace keel::engine {

Result<std::unique_ptr<FakeExecutor>> FakeExecutor::create(const FakeExecutorOptions& options) {
  if (options.vocab_size < 1 || options.max_batch_tokens < 1 || options.max_logit_rows < 1 ||
      options.max_context_tokens < 2 || options.block_size_tokens < 1 || options.num_blocks < 1) {
    return InvalidArgumentError("FakeExecutorOptions: every size must be positive");
  }
  auto device = std::make_unique<memory::CpuDevice>(uint64_t{256} << 20);
  memory::KvCacheShape shape;
  shape.num_layers = 1;
  shape.num_kv_heads = 1;
  shape.head_dim = 1;
  shape.block_size_tokens = options.block_size_tokens;
  shape.dtype = memory::KvDtype::kF32;
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<memory::KvBlockPool> pool,
                        memory::KvBlockPool::create(shape, options.num_blocks, *device));
  return std::unique_ptr<FakeExecutor>(
      new FakeExecutor(options, std::move(device), std::move(pool)));
}

FakeExecutor::FakeExecutor(const FakeExecutorOptions& options,
                           std::unique_ptr<memory::CpuDevice> device,
                           std::unique_ptr<memory::KvBlockPool> pool)
    : options_(options), device_(std::move(device)), pool_(std::move(pool)),
      slots_(static_cast<size_t>(options.num_blocks * options.block_size_tokens), -1),
      logits_(static_cast<size_t>(options.max_logit_rows * options.vocab_size), 0.0f) {}

int32_t FakeExecutor::next_token(std::span<const int32_t> sequence, int64_t vocab_size) {
  const int64_t sum = std::accumulate(sequence.begin(), sequence.end(), int64_t{0});
  const int64_t last = sequence.empty() ? 0 : sequence.back();
  return static_cast<int32_t>((last + 1 + sum % 3) % vocab_size);
}

ExecutorLimits FakeExecutor::limits() const {
  return ExecutorLimits{options_.vocab_size, options_.max_batch_tokens, options_.max_logit_rows,
                        options_.max_context_tokens};
}

void FakeExecutor::fail_next_steps(int count, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_count_ = count;
  fail_status_ = std::move(status);
}

std::vector<std::vector<FakeSeqRecord>> FakeExecutor::steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steps_;
}

int64_t FakeExecutor::num_steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(steps_.size());
}

Status FakeExecutor::check(std::span<const model::SequenceStep> batch) const {
  int64_t tokens = 0;
  int64_t rows = 0;
  const int bs = options_.block_size_tokens;
  for (size_t s = 0; s < batch.size(); ++s) {
    const model::SequenceStep& step = batch[s];
    const auto n = static_cast<int64_t>(step.tokens.size());
    if (n == 0) return InvalidArgumentError("sequence {} of the batch has no tokens", s);
    if (step.start_pos < 0 || step.start_pos + n > options_.max_context_tokens) {
      return OutOfRangeError("sequence {}: positions [{}, {}) exceed the context window of {}", s,
                             step.start_pos, step.start_pos + n, options_.max_context_tokens);
    }
    const int64_t needed = (step.start_pos + n + bs - 1) / bs;
    if (static_cast<int64_t>(step.block_table.size()) < needed) {
      return InvalidArgumentError("sequence {}: block table has {} blocks, {} tokens need {}", s,
                                  step.block_table.size(), step.start_pos + n, needed);
    }
    for (int32_t t : step.tokens) {
      if (t < 0 || t >= options_.vocab_size) {
        return InvalidArgumentError("sequence {}: token {} outside the vocabulary", s, t);
      }
    }
    tokens += n;
    rows += step.logits == model::LogitsWanted::kAll    ? n
            : step.logits == model::LogitsWanted::kLast ? 1
                                                        : 0;
  }
  if (tokens == 0) return InvalidArgumentError("empty batch");
  if (tokens > options_.max_batch_tokens) {
    return InvalidArgumentError("batch has {} tokens; at most {} per step", tokens,
                                options_.max_batch_tokens);
  }
  if (rows > options_.max_logit_rows) {
    return InvalidArgumentError("batch wants {} logit rows; at most {}", rows,
                                options_.max_logit_rows);
  }
  return OkStatus();
}

Status FakeExecutor::write_and_read(const model::SequenceStep& step, int64_t* row) {
  const int bs = options_.block_size_tokens;
  auto slot = [&](int64_t pos) {
    return static_cast<size_t>(step.block_table[static_cast<size_t>(pos / bs)]) *
               static_cast<size_t>(bs) +
           static_cast<size_t>(pos % bs);
  };
  const auto n = static_cast<int64_t>(step.tokens.size());
  for (int64_t i = 0; i < n; ++i) slots_[slot(step.start_pos + i)] = step.tokens[static_cast<size_t>(i)];
  if (step.logits == model::LogitsWanted::kNone) return OkStatus();
  const int64_t first = step.logits == model::LogitsWanted::kAll ? step.start_pos
                                                                 : step.start_pos + n - 1;
  for (int64_t end = first + 1; end <= step.start_pos + n; ++end) {
    scratch_.clear();
    for (int64_t p = 0; p < end; ++p) {
      const int32_t t = slots_[slot(p)];
      if (t < 0) return InternalError("position {} reads a KV slot never written", p);
      scratch_.push_back(t);
    }
    float* out = logits_.data() + *row * options_.vocab_size;
    std::fill(out, out + options_.vocab_size, 0.0f);
    out[next_token(scratch_, options_.vocab_size)] = kPeakLogit;
    ++*row;
  }
  return OkStatus();
}

Result<std::span<const float>> FakeExecutor::execute(std::span<const model::SequenceStep> batch) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FakeSeqRecord> record;
  for (const model::SequenceStep& s : batch) {
    record.push_back({s.start_pos, static_cast<int64_t>(s.tokens.size()),
                      s.logits != model::LogitsWanted::kNone});
  }
  steps_.push_back(std::move(record));
  if (fail_count_ > 0) {
    --fail_count_;
    return fail_status_;
  }
  if (fault::any_armed()) {
    const fault::Site site{.phase = "forward",
                           .abort = progress_ != nullptr ? &progress_->abort_flag() : nullptr};
    KEEL_RETURN_IF_ERROR(fault::check(fault::Point::kStepStall, site));
    KEEL_RETURN_IF_ERROR(fault::check(fault::Point::kKernelError, site));
  }
  if (progress_ != nullptr && progress_->abort_requested()) {
    return CancelledError("the step was aborted (watchdog)");
  }
  KEEL_RETURN_IF_ERROR(check(batch));
  int64_t rows = 0;
  for (const model::SequenceStep& s : batch) KEEL_RETURN_IF_ERROR(write_and_read(s, &rows));
  return std::span<const float>(logits_.data(), static_cast<size_t>(rows * options_.vocab_size));
}

}  // namespace keel::engine
