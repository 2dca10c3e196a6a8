#include "keel/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "keel/core/fault.h"

namespace keel::model {
namespace {

constexpr uint64_t kAlignBytes = 64;

backend::DType kv_backend_dtype(memory::KvDtype t) {
  switch (t) {
    case memory::KvDtype::kF32:
      return backend::DType::kF32;
    case memory::KvDtype::kF16:
      return backend::DType::kF16;
    case memory::KvDtype::kBF16:
      return backend::DType::kBF16;
  }
  return backend::DType::kF32;
}

// Element counts of the workspace arrays, in layout order.
struct WorkspaceLayout {
  // ids, positions (int32) then the float arrays.
  std::vector<uint64_t> sizes;  // bytes of each array
  uint64_t total = 0;

  explicit WorkspaceLayout(const ModelConfig& c, const ModelOptions& o) {
    const auto t = static_cast<uint64_t>(o.max_batch_tokens);
    // Ranks other than 0 of a tensor-parallel group compute no logits.
    const auto r = o.compute_logits ? static_cast<uint64_t>(o.max_logit_rows) : 0;
    const auto h = static_cast<uint64_t>(c.hidden_size);
    const auto i = static_cast<uint64_t>(c.intermediate_size);
    const uint64_t f = sizeof(float);
    sizes = {
        t * sizeof(int32_t),                            // ids
        t * sizeof(int32_t),                            // positions
        t * h * f,                                      // x
        t * h * f,                                      // xn
        t * static_cast<uint64_t>(c.qkv_dim()) * f,     // qkv
        t * static_cast<uint64_t>(c.q_dim()) * f,       // q
        t * static_cast<uint64_t>(c.kv_dim()) * f,      // k
        t * static_cast<uint64_t>(c.kv_dim()) * f,      // v
        t * static_cast<uint64_t>(c.q_dim()) * f,       // attn
        t * h * f,                                      // tmp
        t * 2 * i * f,                                  // gate_up
        t * i * f,                                      // act
        r * h * f,                                      // rows
        r * static_cast<uint64_t>(c.vocab_size) * f,    // logits
        // bf16 copy of a matmul input (the avx512bf16 GEMM): the widest input
        t * static_cast<uint64_t>(std::max({h, i, static_cast<uint64_t>(c.q_dim())})) * 2,
    };
    for (uint64_t s : sizes) total += (s + kAlignBytes - 1) / kAlignBytes * kAlignBytes;
  }
};

}  // namespace

struct Model::Workspace {
  memory::DeviceBuffer buffer;
  int32_t* ids = nullptr;        // (T)
  int32_t* positions = nullptr;  // (T)
  float* x = nullptr;            // (T, H) residual stream
  float* xn = nullptr;           // (T, H) normed
  float* qkv = nullptr;          // (T, A*D + 2*K*D)
  float* q = nullptr;            // (T, A, D)
  float* k = nullptr;            // (T, K, D)
  float* v = nullptr;            // (T, K, D)
  float* attn = nullptr;         // (T, A*D)
  float* tmp = nullptr;          // (T, H)
  float* gate_up = nullptr;      // (T, 2*I)
  float* act = nullptr;          // (T, I)
  float* rows = nullptr;         // (R, H) final hidden states of the logit rows
  float* logits = nullptr;       // (R, V)
  std::span<uint16_t> bf16;      // (T, max(H, I, A*D)) matmul input rounded to bf16
};

Model::~Model() = default;

uint64_t Model::workspace_bytes(const ModelConfig& config, const ModelOptions& options) {
  return WorkspaceLayout(config, options).total;
}

uint64_t Model::rope_table_bytes(const ModelConfig& config, int64_t context_tokens) {
  return static_cast<uint64_t>(context_tokens) * static_cast<uint64_t>(config.head_dim / 2) * 2 *
         sizeof(float);
}

Model::Model(const ModelConfig& config, ModelWeights weights, backend::CpuKernels kernels,
             ModelOptions options)
    : config_(config), weights_(std::move(weights)), kernels_(kernels), options_(options) {}

Result<std::unique_ptr<Model>> Model::create(const ModelConfig& config, ModelWeights weights,
                                             backend::CpuKernels kernels, memory::Device& device,
                                             ModelOptions options) {
  KEEL_RETURN_IF_ERROR(config.validate());
  if (options.max_context_tokens == 0) options.max_context_tokens = config.max_context_tokens;
  if (options.max_context_tokens < 1 || options.max_context_tokens > config.max_context_tokens) {
    return InvalidArgumentError(
        "max context {} tokens is outside [1, {}] (the model's max_position_embeddings{})",
        options.max_context_tokens, config.max_context_tokens,
        config.sliding_window ? " or sliding window" : "");
  }
  if (options.max_batch_tokens < 1 || options.max_batch_tokens > (int64_t{1} << 20)) {
    return InvalidArgumentError("max batch tokens must be in [1, 1048576], got {}",
                                options.max_batch_tokens);
  }
  if (options.max_logit_rows < 1 || options.max_logit_rows > options.max_batch_tokens) {
    return InvalidArgumentError("max logit rows must be in [1, max batch tokens {}], got {}",
                                options.max_batch_tokens, options.max_logit_rows);
  }
  std::unique_ptr<Model> m(new Model(config, std::move(weights), kernels, options));

  // RoPE table: held by a std::vector, accounted in the budget all the same.
  KEEL_ASSIGN_OR_RETURN(
      m->rope_reservation_,
      device.budget().reserve(rope_table_bytes(config, options.max_context_tokens), "rope table"));
  KEEL_ASSIGN_OR_RETURN(std::vector<float> inv_freq,
                        backend::rope_inv_freq(config.rope, options.max_context_tokens));
  KEEL_ASSIGN_OR_RETURN(backend::RopeTable table,
                        backend::RopeTable::create(inv_freq, options.max_context_tokens));
  m->rope_ = std::move(table);

  WorkspaceLayout layout(config, options);
  auto ws = std::make_unique<Workspace>();
  KEEL_ASSIGN_OR_RETURN(ws->buffer, device.allocate(layout.total, "workspace"));
  auto* base = static_cast<std::byte*>(ws->buffer.data());
  uint64_t offset = 0;
  std::vector<void*> ptrs;
  for (uint64_t s : layout.sizes) {
    ptrs.push_back(base + offset);
    offset += (s + kAlignBytes - 1) / kAlignBytes * kAlignBytes;
  }
  size_t i = 0;
  ws->ids = static_cast<int32_t*>(ptrs[i++]);
  ws->positions = static_cast<int32_t*>(ptrs[i++]);
  for (float** p : {&ws->x, &ws->xn, &ws->qkv, &ws->q, &ws->k, &ws->v, &ws->attn, &ws->tmp,
                    &ws->gate_up, &ws->act, &ws->rows, &ws->logits}) {
    *p = static_cast<float*>(ptrs[i++]);
  }
  ws->bf16 = {static_cast<uint16_t*>(ptrs[i]), layout.sizes[i] / sizeof(uint16_t)};
  m->ws_ = std::move(ws);
  return m;
}

Status Model::check_batch(std::span<const SequenceStep> batch, const memory::KvBlockPool& pool,
                          int64_t* num_tokens, int64_t* num_rows) const {
  const memory::KvCacheShape& shape = pool.shape();
  if (shape.num_layers != config_.num_layers || shape.num_kv_heads != config_.num_kv_heads ||
      shape.head_dim != config_.head_dim) {
    return InvalidArgumentError(
        "KV pool shape (layers {}, KV heads {}, head_dim {}) does not match the model ({}, {}, {})",
        shape.num_layers, shape.num_kv_heads, shape.head_dim, config_.num_layers,
        config_.num_kv_heads, config_.head_dim);
  }
  int64_t tokens = 0;
  int64_t rows = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceStep& step = batch[s];
    const auto n = static_cast<int64_t>(step.tokens.size());
    if (n == 0) return InvalidArgumentError("sequence {} of the batch has no tokens", s);
    if (step.start_pos < 0 || step.start_pos + n > options_.max_context_tokens) {
      return OutOfRangeError(
          "sequence {}: positions [{}, {}) exceed the context window of {} tokens", s,
          step.start_pos, step.start_pos + n, options_.max_context_tokens);
    }
    const int64_t blocks_needed = shape.blocks_for_tokens(step.start_pos + n);
    if (static_cast<int64_t>(step.block_table.size()) < blocks_needed) {
      return InvalidArgumentError("sequence {}: block table has {} blocks, {} tokens need {}", s,
                                  step.block_table.size(), step.start_pos + n, blocks_needed);
    }
    tokens += n;
    rows += step.logits == LogitsWanted::kAll ? n : step.logits == LogitsWanted::kLast ? 1 : 0;
  }
  if (tokens == 0) return InvalidArgumentError("empty batch");
  if (tokens > options_.max_batch_tokens) {
    return InvalidArgumentError("batch has {} tokens; this model was set up for at most {} per step",
                                tokens, options_.max_batch_tokens);
  }
  if (rows > options_.max_logit_rows) {
    return InvalidArgumentError("batch wants {} logit rows; at most {} per step", rows,
                                options_.max_logit_rows);
  }
  *num_tokens = tokens;
  *num_rows = rows;
  return OkStatus();
}

Result<std::span<const float>> Model::forward(std::span<const SequenceStep> batch,
                                              memory::KvBlockPool& pool) {
  int64_t num_tokens = 0;
  int64_t num_rows = 0;
  KEEL_RETURN_IF_ERROR(check_batch(batch, pool, &num_tokens, &num_rows));
  Workspace& ws = *ws_;
  const int64_t h = config_.hidden_size;
  int64_t t = 0;
  for (const SequenceStep& step : batch) {
    for (size_t i = 0; i < step.tokens.size(); ++i, ++t) {
      ws.ids[t] = step.tokens[i];
      ws.positions[t] = static_cast<int32_t>(step.start_pos + static_cast<int64_t>(i));
    }
  }
  KEEL_RETURN_IF_ERROR(kernels_.embedding(
      weights_.embedding, {ws.ids, static_cast<size_t>(num_tokens)}, ws.x));
  for (int l = 0; l < config_.num_layers; ++l) {
    KEEL_RETURN_IF_ERROR(before_layer(l));
    KEEL_RETURN_IF_ERROR(layer(l, batch, num_tokens, pool));
  }
  if (num_rows == 0 || !options_.compute_logits) return std::span<const float>();
  // Gather the rows that need logits, then final norm and lm_head on those only.
  int64_t r = 0;
  t = 0;
  for (const SequenceStep& step : batch) {
    const auto n = static_cast<int64_t>(step.tokens.size());
    int64_t first = step.logits == LogitsWanted::kAll ? 0 : n - 1;
    if (step.logits != LogitsWanted::kNone) {
      for (int64_t i = first; i < n; ++i, ++r) {
        std::memcpy(ws.rows + r * h, ws.x + (t + i) * h, static_cast<size_t>(h) * sizeof(float));
      }
    }
    t += n;
  }
  KEEL_RETURN_IF_ERROR(
      kernels_.rmsnorm(ws.rows, weights_.final_norm, config_.rms_norm_eps, num_rows, h, ws.rows));
  KEEL_RETURN_IF_ERROR(kernels_.matmul(ws.rows, num_rows, weights_.lm_head, nullptr, ws.logits, ws.bf16));
  return std::span<const float>(ws.logits, static_cast<size_t>(num_rows * config_.vocab_size));
}

// Progress for the watchdog, its abort, and the per-layer fault points
// (one relaxed load each when nothing is armed).
Status Model::before_layer(int index) {
  if (activity_ != nullptr) activity_->layer.store(index, std::memory_order_relaxed);
  if (progress_ != nullptr) {
    if (tp_rank() == 0) progress_->set_layer(index, comm_ == nullptr ? -1 : 0);
    if (progress_->abort_requested()) {
      return CancelledError("the step was aborted before layer {} (watchdog)", index);
    }
  }
  if (fault::any_armed()) {
    const fault::Site site{.rank = comm_ == nullptr ? -1 : comm_->rank(),
                           .phase = "forward",
                           .abort = progress_ != nullptr ? &progress_->abort_flag() : nullptr};
    KEEL_RETURN_IF_ERROR(fault::check(fault::Point::kStepStall, site));
    KEEL_RETURN_IF_ERROR(fault::check(fault::Point::kKernelError, site));
    KEEL_RETURN_IF_ERROR(fault::check(fault::Point::kDeviceAlloc, site));
  }
  return OkStatus();
}

Status Model::reduce(float* data, int64_t num_tokens) {
  if (comm_ == nullptr) return OkStatus();
  if (activity_ != nullptr) activity_->in_collective.store(true, std::memory_order_relaxed);
  const Status s = comm_->all_reduce_sum(
      {data, static_cast<size_t>(num_tokens * config_.hidden_size)}, collective_deadline_);
  if (activity_ != nullptr) activity_->in_collective.store(false, std::memory_order_relaxed);
  return s;
}

Status Model::layer(int index, std::span<const SequenceStep> batch, int64_t num_tokens,
                    memory::KvBlockPool& pool) {
  Workspace& ws = *ws_;
  const LayerWeights& w = weights_.layers[static_cast<size_t>(index)];
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size;
  const int64_t inter = c.intermediate_size;
  const int64_t q_dim = c.q_dim();
  const int64_t kv_dim = c.kv_dim();
  const int64_t qkv_dim = c.qkv_dim();
  const float eps = c.rms_norm_eps;

  // Attention block.
  KEEL_RETURN_IF_ERROR(kernels_.rmsnorm(ws.x, w.attn_norm, eps, num_tokens, h, ws.xn));
  KEEL_RETURN_IF_ERROR(kernels_.matmul(ws.xn, num_tokens, w.qkv, w.qkv_bias, ws.qkv, ws.bf16));
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* src = ws.qkv + t * qkv_dim;
    std::memcpy(ws.q + t * q_dim, src, static_cast<size_t>(q_dim) * sizeof(float));
    std::memcpy(ws.k + t * kv_dim, src + q_dim, static_cast<size_t>(kv_dim) * sizeof(float));
    std::memcpy(ws.v + t * kv_dim, src + q_dim + kv_dim,
                static_cast<size_t>(kv_dim) * sizeof(float));
  }
  if (c.qk_norm) {
    KEEL_RETURN_IF_ERROR(
        kernels_.rmsnorm(ws.q, w.q_norm, eps, num_tokens * c.num_heads, c.head_dim, ws.q));
    KEEL_RETURN_IF_ERROR(
        kernels_.rmsnorm(ws.k, w.k_norm, eps, num_tokens * c.num_kv_heads, c.head_dim, ws.k));
  }
  const std::span<const int32_t> positions(ws.positions, static_cast<size_t>(num_tokens));
  KEEL_RETURN_IF_ERROR(kernels_.rope(ws.q, num_tokens, c.num_heads, c.head_dim, positions, *rope_));
  KEEL_RETURN_IF_ERROR(
      kernels_.rope(ws.k, num_tokens, c.num_kv_heads, c.head_dim, positions, *rope_));

  const memory::KvCacheShape& shape = pool.shape();
  backend::KvCacheMutView cache;
  cache.k_pool = pool.block_k(0, index);
  cache.v_pool = pool.block_v(0, index);
  cache.num_pool_blocks = pool.num_total();
  cache.layout.num_kv_heads = shape.num_kv_heads;
  cache.layout.block_size = shape.block_size_tokens;
  cache.layout.head_dim = shape.head_dim;
  cache.layout.dtype = kv_backend_dtype(shape.dtype);
  cache.layout.block_stride = static_cast<size_t>(shape.num_layers) * cache.layout.block_elems();
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  int64_t t = 0;
  for (const SequenceStep& step : batch) {
    const auto n = static_cast<int64_t>(step.tokens.size());
    KEEL_RETURN_IF_ERROR(kernels_.write_kv(ws.k + t * kv_dim, ws.v + t * kv_dim, n,
                                           step.start_pos, step.block_table, cache));
    backend::AttentionArgs a;
    a.q = ws.q + t * q_dim;
    a.n_q_tokens = n;
    a.n_heads = c.num_heads;
    a.start_pos = step.start_pos;
    a.block_table = step.block_table;
    a.kv = cache.view();
    a.scale = scale;
    a.out = ws.attn + t * q_dim;
    KEEL_RETURN_IF_ERROR(kernels_.attention(a));
    t += n;
  }
  KEEL_RETURN_IF_ERROR(kernels_.matmul(ws.attn, num_tokens, w.o, w.o_bias, ws.tmp, ws.bf16));
  KEEL_RETURN_IF_ERROR(reduce(ws.tmp, num_tokens));
  KEEL_RETURN_IF_ERROR(kernels_.add(ws.x, ws.tmp, num_tokens * h, ws.x));

  // MLP block.
  KEEL_RETURN_IF_ERROR(kernels_.rmsnorm(ws.x, w.mlp_norm, eps, num_tokens, h, ws.xn));
  KEEL_RETURN_IF_ERROR(kernels_.matmul(ws.xn, num_tokens, w.gate_up, w.gate_up_bias, ws.gate_up, ws.bf16));
  for (int64_t i = 0; i < num_tokens; ++i) {
    const float* g = ws.gate_up + i * 2 * inter;
    KEEL_RETURN_IF_ERROR(kernels_.swiglu(g, g + inter, inter, ws.act + i * inter));
  }
  KEEL_RETURN_IF_ERROR(kernels_.matmul(ws.act, num_tokens, w.down, w.down_bias, ws.tmp, ws.bf16));
  KEEL_RETURN_IF_ERROR(reduce(ws.tmp, num_tokens));
  return kernels_.add(ws.x, ws.tmp, num_tokens * h, ws.x);
}

}  // namespace keel::model
