#include "keel/sampling/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "keel/backend/sampling_kernels.h"
#include "keel/core/check.h"

namespace keel::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Up to this top_k a bounded heap selects in one pass (O(vocab) compares,
// about k * ln(vocab / k) heap updates); above it, nth_element.
constexpr size_t kHeapTopK = 1024;

// Candidates are pre-filtered by thresholds in logit space that are lowered
// by this much, so float rounding in exp/log can only let a few extra
// candidates through; the exact decision is then made on exp'd values.
constexpr double kLogSlack = 1e-2;

uint64_t random_seed() {
  try {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
  } catch (...) {
    // No entropy source: fall back to the clock (a seed only has to differ
    // between requests, not be secret).
    return static_cast<uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
  }
}

}  // namespace

Result<Sampler> Sampler::create(const SamplingParams& params, int64_t vocab_size) {
  KEEL_RETURN_IF_ERROR(validate(params, vocab_size));
  return Sampler(params, vocab_size, params.seed ? *params.seed : random_seed());
}

Sampler::Sampler(const SamplingParams& params, int64_t vocab_size, uint64_t seed)
    : params_(params),
      vocab_size_(vocab_size),
      greedy_(is_greedy(params)),
      has_top_k_(!greedy_ && params.top_k > 0 && params.top_k < vocab_size),
      has_top_p_(!greedy_ && params.top_p < 1.0f),
      has_penalties_(params.repetition_penalty != 1.0f || params.presence_penalty != 0.0f ||
                     params.frequency_penalty != 0.0f),
      track_prompt_(params.repetition_penalty != 1.0f),
      seed_(seed),
      rng_(seed) {
  const auto n = static_cast<size_t>(vocab_size);
  // The kernels' one-time ISA choice allocates: here, not in the first draw.
  (void)backend::SamplingKernels::get();
  if (has_top_k_ || has_top_p_) candidates_.resize(n);
  if (!greedy_ && !has_top_k_ && !has_top_p_) {
    block_sums_.resize((n + kBlock - 1) / kBlock);
    weights_.resize(kBlock);
  }
  if (has_penalties_) {
    output_counts_.assign(n, 0);
    flags_.assign(n, 0);
    seen_ids_.reserve(n);
  }
}

size_t Sampler::scratch_bytes() const {
  return candidates_.capacity() * sizeof(Candidate) + block_sums_.capacity() * sizeof(double) + weights_.capacity() * sizeof(float) +
         output_counts_.capacity() * sizeof(int32_t) + flags_.capacity() +
         seen_ids_.capacity() * sizeof(int32_t);
}

Status Sampler::set_prompt(std::span<const int32_t> prompt_ids) {
  for (size_t i = 0; i < prompt_ids.size(); ++i) {
    if (prompt_ids[i] < 0 || prompt_ids[i] >= vocab_size_) {
      return InvalidArgumentError("prompt token {} (at position {}) is outside the vocabulary [0, {})",
                                  prompt_ids[i], i, vocab_size_);
    }
  }
  if (!track_prompt_) return OkStatus();
  // Forget the previous prompt; keep ids that occur in the output.
  size_t kept = 0;
  for (int32_t id : seen_ids_) {
    if (output_counts_[id] > 0) {
      seen_ids_[kept++] = id;
    } else {
      flags_[id] = 0;
    }
  }
  seen_ids_.resize(kept);
  for (int32_t id : prompt_ids) {
    if (flags_[id] == 0) {
      flags_[id] = 1;
      seen_ids_.push_back(id);  // capacity vocab_size: never reallocates
    }
  }
  return OkStatus();
}

Status Sampler::accept(int32_t token) {
  if (token < 0 || token >= vocab_size_) {
    return InvalidArgumentError("accepted token {} is outside the vocabulary [0, {})", token,
                                vocab_size_);
  }
  if (!has_penalties_) return OkStatus();
  ++output_counts_[token];
  if (flags_[token] == 0) {
    flags_[token] = 1;
    seen_ids_.push_back(token);
  }
  return OkStatus();
}

Status Sampler::process(std::span<float> logits, std::span<const int32_t> suppress) const {
  if (static_cast<int64_t>(logits.size()) != vocab_size_) {
    return InvalidArgumentError(
        "logits has {} entries but the sampler was created for a vocabulary of {}",
        logits.size(), vocab_size_);
  }
  for (int32_t id : suppress) {
    if (id < 0 || id >= vocab_size_) {
      return InvalidArgumentError("suppressed token {} is outside the vocabulary [0, {})", id,
                                  vocab_size_);
    }
  }
  for (const auto& [id, bias] : params_.logit_bias) logits[id] += bias;
  for (int32_t id : suppress) logits[id] = kNegInf;
  if (!has_penalties_) return OkStatus();

  // vLLM's apply_penalties: repetition (prompt + output), then frequency,
  // then presence (output only). Only ids that occurred are touched.
  const float repetition = params_.repetition_penalty;
  const float frequency = params_.frequency_penalty;
  const float presence = params_.presence_penalty;
  for (int32_t id : seen_ids_) {
    float& logit = logits[id];
    if (repetition != 1.0f) logit = logit > 0.0f ? logit / repetition : logit * repetition;
    const int32_t count = output_counts_[id];
    if (count > 0) {
      logit -= frequency * static_cast<float>(count);
      logit -= presence;
    }
  }
  return OkStatus();
}

Result<int32_t> Sampler::argmax(std::span<const float> logits) const {
  const backend::MaxScan m = backend::SamplingKernels::get().scan_max(logits);
  if (m.first_invalid >= 0) {
    return InternalError(
        "the logit of token {} is {}: the model produced invalid values (NaN or +inf)",
        m.first_invalid, logits[static_cast<size_t>(m.first_invalid)]);
  }
  if (m.argmax < 0) {
    return FailedPreconditionError(
        "nothing can be sampled: every token's logit is -inf after suppression and logit "
        "bias (vocabulary {}); allow at least one token (e.g. lower min_new_tokens or "
        "remove a -100 logit_bias)",
        logits.size());
  }
  return static_cast<int32_t>(m.argmax);  // the first of ties: the lowest id
}

Result<int32_t> Sampler::sample(std::span<float> logits, std::span<const int32_t> suppress) {
  const double u = greedy_ ? 0.0 : rng_.next_double();
  return sample_at(logits, suppress, u);
}

Result<int32_t> Sampler::sample_at(std::span<float> logits, std::span<const int32_t> suppress,
                                   double u) {
  if (!(u >= 0.0 && u < 1.0)) {
    return InvalidArgumentError("the uniform number must be in [0, 1), got {}", u);
  }
  KEEL_RETURN_IF_ERROR(process(logits, suppress));
  KEEL_ASSIGN_OR_RETURN(const int32_t best, argmax(logits));
  if (greedy_) return best;

  // Shift before dividing so that a tiny temperature cannot overflow: every
  // value is <= 0 afterwards and exp() stays in [0, 1].
  const float max_logit = logits[best];
  const float temperature = params_.temperature;
  if (!has_top_k_ && !has_top_p_) return sample_untruncated(logits, max_logit, u);
  for (float& logit : logits) logit = (logit - max_logit) / temperature;
  if (has_top_k_ && params_.top_k == 1) return best;
  return sample_truncated(logits, u);
}

int32_t Sampler::sample_untruncated(std::span<float> logits, float max_logit, double u) {
  // Walks ids in order; a token's weight counts when >= min_p (min_p == 0
  // keeps everything; -inf has weight 0). One vector pass shifts and scales
  // the logits and sums the weights of every block of kBlock ids; then only
  // the block that holds u * total is walked, token by token.
  const backend::SamplingKernels& k = backend::SamplingKernels::get();
  const float min_p = params_.min_p;
  const size_t n = logits.size();
  const size_t num_blocks = (n + kBlock - 1) / kBlock;
  const std::span<double> sums(block_sums_.data(), num_blocks);
  k.shift_exp_block_sums(logits, max_logit, params_.temperature, min_p, kBlock, sums);
  double total = 0.0;
  for (const double s : sums) total += s;
  const double target = u * total;
  // Fills weights_ with block b's weights; returns the block's length.
  auto block_weights = [&](size_t b) {
    const size_t begin = b * kBlock;
    const size_t len = std::min(kBlock, n - begin);
    k.exp_weights(logits.subspan(begin, len), min_p, std::span<float>(weights_.data(), len));
    return len;
  };
  double cumulative = 0.0;
  for (size_t b = 0; b < num_blocks; ++b) {
    if (!(target < cumulative + sums[b])) {
      cumulative += sums[b];
      continue;
    }
    const size_t len = block_weights(b);
    int32_t last = -1;
    for (size_t i = 0; i < len; ++i) {
      if (weights_[i] > 0.0f) {
        cumulative += weights_[i];
        last = static_cast<int32_t>(b * kBlock + i);
        if (target < cumulative) return last;
      }
    }
    // The walk's sum rounded just below the block's: its last token.
    if (last >= 0) return last;
  }
  // u * total rounded up to the full sum: the last token with a weight.
  for (size_t b = num_blocks; b-- > 0;) {
    if (!(sums[b] > 0.0)) continue;
    for (size_t i = block_weights(b); i-- > 0;) {
      if (weights_[i] > 0.0f) return static_cast<int32_t>(b * kBlock + i);
    }
  }
  KEEL_CHECK(false) << "the largest logit has weight 1";
  return -1;
}

int32_t Sampler::sample_truncated(std::span<const float> logits, double u) {
  Candidate* cand = candidates_.data();
  const float min_p = params_.min_p;
  const float min_p_floor =
      min_p > 0.0f ? static_cast<float>(std::log(static_cast<double>(min_p)) - kLogSlack)
                   : kNegInf;
  size_t n = 0;
  double total = 0.0;  // the mass top-p is taken of
  if (has_top_k_) {
    // min-p and top-k commute (both keep a prefix of the sorted order), so
    // min-p may prune the gather unless top-p, which renormalises over the
    // top-k set, needs all of it. exp() only for the k selected.
    const float floor = has_top_p_ ? kNegInf : min_p_floor;
    const auto k = static_cast<size_t>(params_.top_k);
    if (k <= kHeapTopK) {
      n = select_top_k_heap(logits, k, floor);
    } else {
      for (size_t i = 0; i < logits.size(); ++i) {
        const float logit = logits[i];
        if (logit > kNegInf && logit >= floor) {
          cand[n++] = {logit, 0.0f, static_cast<int32_t>(i)};
        }
      }
      if (k < n) {
        std::nth_element(cand, cand + k, cand + n, better);
        n = k;
      }
    }
    for (size_t j = 0; j < n; ++j) {
      cand[j].weight = std::exp(cand[j].logit);
      total += cand[j].weight;
    }
  } else {
    for (size_t i = 0; i < logits.size(); ++i) {
      const float logit = logits[i];
      if (logit > kNegInf) {
        const float weight = std::exp(logit);
        cand[n++] = {logit, weight, static_cast<int32_t>(i)};
        total += weight;
      }
    }
    // Top-p alone: tokens with probability < (1 - top_p) / num_finite hold
    // less than 1 - top_p together, so top-p drops every one of them.
    const double drop_mass = total * (1.0 - static_cast<double>(params_.top_p));
    const float floor = std::max(
        min_p_floor,
        static_cast<float>(std::log(drop_mass / static_cast<double>(n)) - kLogSlack));
    size_t kept = 0;
    for (size_t j = 0; j < n; ++j) {
      if (cand[j].logit >= floor) cand[kept++] = cand[j];
    }
    n = kept;
  }
  if (has_top_p_) {
    n = nucleus_bound(n, static_cast<double>(params_.top_p) * total);
  } else {
    std::sort(cand, cand + n, better);
  }
  double kept_total = 0.0;
  const size_t kept = cut_sorted(n, total, kept_total);
  return draw_sorted(kept, kept_total, u);
}

size_t Sampler::select_top_k_heap(std::span<const float> logits, size_t k, float floor) {
  // cand[0, n) is a heap whose top is the worst kept candidate. Ids arrive
  // in increasing order, so a later equal logit never beats a kept one and
  // the test is a single comparison with the current threshold.
  Candidate* cand = candidates_.data();
  size_t n = 0;
  float threshold = floor;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float logit = logits[i];
    if (!(logit > kNegInf && logit >= threshold)) continue;
    const Candidate c{logit, 0.0f, static_cast<int32_t>(i)};
    if (n < k) {
      cand[n++] = c;
      std::push_heap(cand, cand + n, better);
      if (n == k) threshold = std::max(floor, std::nextafter(cand[0].logit, kInf));
    } else {
      std::pop_heap(cand, cand + n, better);
      cand[n - 1] = c;
      std::push_heap(cand, cand + n, better);
      threshold = std::max(floor, std::nextafter(cand[0].logit, kInf));
    }
  }
  return n;
}

size_t Sampler::nucleus_bound(size_t n, double target) {
  // Mass-guided quickselect: [0, lo) is known to be in the nucleus, [hi, n)
  // known to be out, `needed` is the mass still to find in [lo, hi).
  constexpr size_t kSortBelow = 64;
  Candidate* cand = candidates_.data();
  size_t lo = 0;
  size_t hi = n;
  double needed = target;
  while (hi - lo > kSortBelow) {
    const size_t mid = lo + (hi - lo) / 2;
    std::nth_element(cand + lo, cand + mid, cand + hi, better);
    double left = 0.0;
    for (size_t j = lo; j < mid; ++j) left += cand[j].weight;
    if (left >= needed) {
      hi = mid;
    } else {
      needed -= left;
      lo = mid;
    }
  }
  // [0, lo) precedes [lo, hi) in the order, so sorting both sorts [0, hi);
  // cut_sorted() then finds the exact cut in canonical order.
  std::sort(cand + lo, cand + hi, better);
  std::sort(cand, cand + lo, better);
  return hi;
}

size_t Sampler::cut_sorted(size_t n, double total, double& kept_total) const {
  const Candidate* cand = candidates_.data();
  KEEL_CHECK(n >= 1 && cand[0].weight == 1.0f) << "the largest logit is gathered first";
  size_t kept = n;
  if (has_top_p_) {
    // The smallest prefix whose mass reaches top_p (HF/vLLM nucleus).
    const double target = static_cast<double>(params_.top_p) * total;
    double cumulative = 0.0;
    for (size_t j = 0; j < n; ++j) {
      cumulative += cand[j].weight;
      if (cumulative >= target) {
        kept = j + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    // Weights are probabilities relative to the largest (which is 1).
    size_t j = 1;
    while (j < kept && cand[j].weight >= params_.min_p) ++j;
    kept = j;
  }
  kept_total = 0.0;
  for (size_t j = 0; j < kept; ++j) kept_total += cand[j].weight;
  return kept;
}

int32_t Sampler::draw_sorted(size_t n, double kept_total, double u) const {
  const Candidate* cand = candidates_.data();
  const double target = u * kept_total;
  double cumulative = 0.0;
  int32_t last = cand[0].id;
  for (size_t j = 0; j < n; ++j) {
    if (cand[j].weight <= 0.0f) break;  // sorted: the rest has weight 0 too
    cumulative += cand[j].weight;
    last = cand[j].id;
    if (target < cumulative) return last;
  }
  return last;  // u * kept_total rounded up to the full sum
}

}  // namespace keel::sampling
