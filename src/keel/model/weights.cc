#include "keel/model/weights.h"

#include <cstring>

#include "keel/backend/dtype.h"

namespace keel::model {
namespace {

constexpr uint64_t kAlignBytes = 64;

uint64_t align_up(uint64_t v) { return (v + kAlignBytes - 1) / kAlignBytes * kAlignBytes; }

Result<backend::DType> backend_dtype(DType t, std::string_view tensor) {
  switch (t) {
    case DType::kF32:
      return backend::DType::kF32;
    case DType::kF16:
      return backend::DType::kF16;
    case DType::kBF16:
      return backend::DType::kBF16;
    default:
      return UnimplementedError(
          "tensor {} has dtype {}; keel runs F32, F16 and BF16 weights (quantized and other "
          "types are not supported yet)",
          tensor, dtype_name(t));
  }
}

std::string shape_string(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Lays the sources out one after another (64-byte aligned). Without a base
// pointer it only validates and counts; with one it also copies.
class Placer {
 public:
  Placer(const SafetensorsModel& checkpoint, std::byte* base, uint64_t total_bytes,
         const LoadProgress* progress)
      : ckpt_(checkpoint), base_(base), total_(total_bytes), progress_(progress) {}

  uint64_t bytes() const { return offset_; }
  uint64_t num_parameters() const { return params_; }

  // A 2-D source, kept in its dtype.
  Result<backend::WeightView> matrix(const FusedSource& s) {
    KEEL_ASSIGN_OR_RETURN(backend::DType dtype, check(s, /*rank=*/2));
    const uint64_t elem = backend::dtype_bytes(dtype);
    const uint64_t row_bytes = static_cast<uint64_t>(s.cols) * elem;
    const uint64_t src_row_bytes = static_cast<uint64_t>(s.full_cols()) * elem;
    std::byte* dst = claim(static_cast<uint64_t>(s.rows) * row_bytes);
    if (dst != nullptr) {
      for (const RowSlice& part : s.parts) {
        TensorView t = ckpt_.tensor(part.tensor).value();
        const auto* src = static_cast<const std::byte*>(t.data) +
                          static_cast<uint64_t>(part.row_begin) * src_row_bytes +
                          static_cast<uint64_t>(s.col_begin) * elem;
        const auto rows = static_cast<uint64_t>(part.row_end - part.row_begin);
        if (row_bytes == src_row_bytes) {
          std::memcpy(dst, src, rows * row_bytes);
        } else {  // a column range: row by row
          for (uint64_t r = 0; r < rows; ++r) {
            std::memcpy(dst + r * row_bytes, src + r * src_row_bytes, row_bytes);
          }
        }
        dst += rows * row_bytes;
        report(rows * row_bytes);
      }
    }
    params_ += static_cast<uint64_t>(s.rows) * static_cast<uint64_t>(s.cols);
    return backend::WeightView{dst == nullptr ? nullptr : last_, dtype, s.rows, s.cols};
  }

  // A 1-D source converted to f32; null when absent.
  Result<const float*> vector(const FusedSource& s) {
    if (!s.present()) return static_cast<const float*>(nullptr);
    KEEL_ASSIGN_OR_RETURN(backend::DType dtype, check(s, /*rank=*/1));
    std::byte* dst = claim(static_cast<uint64_t>(s.rows) * sizeof(float));
    params_ += static_cast<uint64_t>(s.rows);
    if (dst == nullptr) return static_cast<const float*>(nullptr);
    auto* out = reinterpret_cast<float*>(dst);
    for (const RowSlice& part : s.parts) {
      TensorView t = ckpt_.tensor(part.tensor).value();
      const auto* src = static_cast<const std::byte*>(t.data) +
                        part.row_begin * static_cast<int64_t>(backend::dtype_bytes(dtype));
      const auto n = static_cast<size_t>(part.row_end - part.row_begin);
      backend::convert_to_f32(src, dtype, n, out);
      out += n;
      report(n * sizeof(float));
    }
    return reinterpret_cast<const float*>(last_);
  }

 private:
  // Every part present with the expected shape, all of one dtype.
  Result<backend::DType> check(const FusedSource& s, size_t rank) {
    std::optional<backend::DType> dtype;
    for (const RowSlice& part : s.parts) {
      Result<TensorView> t = ckpt_.tensor(part.tensor);
      if (!t.ok()) {
        return NotFoundError("the checkpoint has no tensor {} (needed by this architecture); is "
                             "the folder complete and config.json right?",
                             part.tensor);
      }
      std::vector<int64_t> want{part.tensor_rows};
      if (rank == 2) want.push_back(s.full_cols());
      if (!std::equal(t->shape.begin(), t->shape.end(), want.begin(), want.end())) {
        return InvalidArgumentError("tensor {} has shape {}, config.json implies {}", part.tensor,
                                    shape_string(t->shape), shape_string(want));
      }
      KEEL_ASSIGN_OR_RETURN(backend::DType d, backend_dtype(t->dtype, part.tensor));
      if (dtype && *dtype != d) {
        return InvalidArgumentError("tensor {} is {} but the tensors fused with it are {}",
                                    part.tensor, backend::dtype_name(d),
                                    backend::dtype_name(*dtype));
      }
      dtype = d;
    }
    if (!dtype) return InternalError("empty weight source");
    return *dtype;
  }

  std::byte* claim(uint64_t n) {
    offset_ = align_up(offset_);
    std::byte* p = base_ == nullptr ? nullptr : base_ + offset_;
    last_ = p;
    offset_ += n;
    return p;
  }

  void report(uint64_t n) {
    done_ += n;
    if (progress_ != nullptr && *progress_) (*progress_)(done_, total_);
  }

  const SafetensorsModel& ckpt_;
  std::byte* base_;
  uint64_t total_;
  const LoadProgress* progress_;
  uint64_t offset_ = 0;
  uint64_t done_ = 0;
  uint64_t params_ = 0;
  std::byte* last_ = nullptr;
};

Result<ModelWeights> assemble(const ArchSources& s, Placer& p) {
  ModelWeights w;
  KEEL_ASSIGN_OR_RETURN(w.embedding, p.matrix(s.embedding));
  for (const LayerSources& l : s.layers) {
    LayerWeights lw;
    KEEL_ASSIGN_OR_RETURN(lw.attn_norm, p.vector(l.attn_norm));
    KEEL_ASSIGN_OR_RETURN(lw.qkv, p.matrix(l.qkv));
    KEEL_ASSIGN_OR_RETURN(lw.qkv_bias, p.vector(l.qkv_bias));
    KEEL_ASSIGN_OR_RETURN(lw.q_norm, p.vector(l.q_norm));
    KEEL_ASSIGN_OR_RETURN(lw.k_norm, p.vector(l.k_norm));
    KEEL_ASSIGN_OR_RETURN(lw.o, p.matrix(l.o));
    KEEL_ASSIGN_OR_RETURN(lw.o_bias, p.vector(l.o_bias));
    KEEL_ASSIGN_OR_RETURN(lw.mlp_norm, p.vector(l.mlp_norm));
    KEEL_ASSIGN_OR_RETURN(lw.gate_up, p.matrix(l.gate_up));
    KEEL_ASSIGN_OR_RETURN(lw.gate_up_bias, p.vector(l.gate_up_bias));
    KEEL_ASSIGN_OR_RETURN(lw.down, p.matrix(l.down));
    KEEL_ASSIGN_OR_RETURN(lw.down_bias, p.vector(l.down_bias));
    w.layers.push_back(lw);
  }
  KEEL_ASSIGN_OR_RETURN(w.final_norm, p.vector(s.final_norm));
  if (s.lm_head.present()) {
    KEEL_ASSIGN_OR_RETURN(w.lm_head, p.matrix(s.lm_head));
  } else {
    w.lm_head = w.embedding;
  }
  return w;
}

}  // namespace

Result<WeightPlan> plan_weights(const ArchSources& sources, const SafetensorsModel& checkpoint) {
  Placer placer(checkpoint, nullptr, 0, nullptr);
  KEEL_ASSIGN_OR_RETURN(ModelWeights w, assemble(sources, placer));
  WeightPlan plan;
  plan.bytes = align_up(placer.bytes());
  plan.matrix_dtype = w.embedding.dtype;
  plan.num_parameters = placer.num_parameters();
  return plan;
}

Result<ModelWeights> load_weights(const ArchSources& sources, const SafetensorsModel& checkpoint,
                                  memory::Device& device, const LoadProgress& progress) {
  KEEL_ASSIGN_OR_RETURN(WeightPlan plan, plan_weights(sources, checkpoint));
  KEEL_ASSIGN_OR_RETURN(memory::DeviceBuffer storage, device.allocate(plan.bytes, "weights"));
  Placer placer(checkpoint, static_cast<std::byte*>(storage.data()), plan.bytes, &progress);
  KEEL_ASSIGN_OR_RETURN(ModelWeights w, assemble(sources, placer));
  w.storage = std::move(storage);
  return w;
}

}  // namespace keel::model
