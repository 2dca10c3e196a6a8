// Sampler: picks the next token of one request from the model's logits.
//
// Processing order (as vLLM v1 / HF transformers), see README.md:
//   logit bias, suppression → repetition, frequency, presence penalties →
//   (greedy: argmax, lowest id on ties) → temperature → top-k → top-p →
//   min-p → draw from the softmax of what is left.
//
// Contract
// - create() validates the params and allocates all scratch once (see
//   scratch_bytes()); process(), sample(), sample_at() and accept() never
//   allocate on success (an error status allocates its message).
// - sample() draws exactly one random number per call unless greedy, so the
//   same seed, the same logits and the same accept() history give the same
//   tokens on every run. The RNG is integer-only, so the stream is the same
//   on every platform; a token can differ only when u falls within float
//   rounding of a cumulative boundary (the vector exp of
//   backend/sampling_kernels.h differs from std::exp by an ulp or two, and
//   between ISAs in its float partial sums; a top-k total is summed in
//   nth_element's order).
// - Nothing samplable (every logit -inf after suppression) is
//   FailedPrecondition; a NaN or +inf logit is Internal (the model produced
//   invalid values). Neither ever crashes.
// - The sampler does not record the token it returns: the caller calls
//   accept(token) for every token it keeps (penalties count those).
// Thread-safety: none; a Sampler belongs to one request and is used by one
// thread at a time. There is no shared state between Samplers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "keel/core/result.h"
#include "keel/sampling/rng.h"
#include "keel/sampling/sampling_params.h"

namespace keel::sampling {

class Sampler {
 public:
  // InvalidArgument if validate(params, vocab_size) fails.
  static Result<Sampler> create(const SamplingParams& params, int64_t vocab_size);

  Sampler(Sampler&&) noexcept = default;
  Sampler& operator=(Sampler&&) noexcept = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Records the prompt for the repetition penalty (replacing an earlier
  // prompt; output counts are kept). InvalidArgument, and nothing changes,
  // if an id is outside [0, vocab_size).
  Status set_prompt(std::span<const int32_t> prompt_ids);

  // Records one generated token (for all three penalties). InvalidArgument
  // if outside [0, vocab_size).
  Status accept(int32_t token);

  // logits: (vocab_size), modified in place. suppress: ids whose logit is
  // set to -inf (e.g. StopChecker::suppressed_token_ids()). Returns the
  // chosen id. On return `logits` holds the processed logits (bias,
  // suppression, penalties); unless greedy they are also shifted so the
  // largest is 0 and divided by the temperature, so softmax(logits) is the
  // distribution before truncation. On error, logits are unspecified.
  Result<int32_t> sample(std::span<float> logits, std::span<const int32_t> suppress = {});

  // As sample() with the uniform number `u` in [0, 1) supplied by the caller
  // instead of drawn (tests; callers with their own randomness). The
  // candidates are walked in a fixed order (by id when neither top-k nor
  // top-p is on, otherwise by logit descending, ties to the lower id) and
  // the first whose cumulative probability exceeds u is chosen.
  Result<int32_t> sample_at(std::span<float> logits, std::span<const int32_t> suppress,
                            double u);

  // Only bias, suppression and penalties, in place: the part of sample()
  // that changes logits before any normalisation.
  Status process(std::span<float> logits, std::span<const int32_t> suppress = {}) const;

  const SamplingParams& params() const { return params_; }
  int64_t vocab_size() const { return vocab_size_; }
  bool greedy() const { return greedy_; }
  // The seed in use (params.seed, or the one drawn from std::random_device).
  uint64_t seed() const { return seed_; }
  // Bytes of scratch allocated by create(): at most about 21 * vocab_size
  // (truncation candidates 12, penalty tables 9; untruncated draws 2 KiB +
  // 8 bytes per 512 ids), 0 for plain greedy.
  size_t scratch_bytes() const;

 private:
  struct Candidate {
    float logit;   // processed: <= 0, the largest is 0
    float weight;  // exp(logit): probability relative to the largest
    int32_t id;
  };
  // The candidate order: logit descending, ties to the lower id.
  static bool better(const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }

  Sampler(const SamplingParams& params, int64_t vocab_size, uint64_t seed);

  // Returns the argmax; FailedPrecondition / Internal as documented above.
  Result<int32_t> argmax(std::span<const float> logits) const;
  // The draw without top-k/top-p: shifts and scales `logits` itself.
  int32_t sample_untruncated(std::span<float> logits, float max_logit, double u);
  int32_t sample_truncated(std::span<const float> logits, double u);
  // Puts the k best finite logits >= floor into candidates [0, n), n <= k,
  // in heap order; returns n.
  size_t select_top_k_heap(std::span<const float> logits, size_t k, float floor);
  // Reorders candidates [0, n) so that a prefix [0, bound) is sorted and
  // holds the top-p nucleus (mass `target`); returns bound. Expected O(n)
  // plus sorting the nucleus.
  size_t nucleus_bound(size_t n, double target);
  // Cuts the sorted candidates [0, n) (the largest has weight 1) by top-p
  // over `total` and then min-p; returns how many stay and their sum.
  size_t cut_sorted(size_t n, double total, double& kept_total) const;
  int32_t draw_sorted(size_t n, double kept_total, double u) const;

  SamplingParams params_;
  int64_t vocab_size_;
  bool greedy_;
  bool has_top_k_;
  bool has_top_p_;
  bool has_penalties_;
  bool track_prompt_;
  uint64_t seed_;
  Xoshiro256StarStar rng_;

  std::vector<Candidate> candidates_;  // (vocab_size) when top-k or top-p is on
  // Untruncated draws: the weight sum of every block of kBlock ids
  // (ceil(vocab_size / kBlock)), and the weights of the block walked.
  static constexpr size_t kBlock = 512;
  std::vector<double> block_sums_;
  std::vector<float> weights_;
  std::vector<int32_t> output_counts_; // (vocab_size) when any penalty is on
  std::vector<uint8_t> flags_;         // (vocab_size): kInPrompt | kListed
  std::vector<int32_t> seen_ids_;      // ids with a flag; capacity vocab_size
};

}  // namespace keel::sampling
