#include "keel/model/arch/shard.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace keel::model {
namespace {

std::string working_values(const ModelConfig& c) {
  std::string ok;
  for (int n = 1; n <= 64; n *= 2) {
    if (c.num_heads % n == 0 && c.intermediate_size % n == 0 &&
        (c.num_kv_heads % n == 0 || n % c.num_kv_heads == 0)) {
      ok += (ok.empty() ? "" : ", ") + std::to_string(n);
    }
  }
  return ok;
}

// The KV heads rank r keeps: [first, first + count).
std::pair<int64_t, int64_t> kv_heads_of(const ModelConfig& c, int rank, int world) {
  if (c.num_kv_heads % world == 0) {
    const int64_t per = c.num_kv_heads / world;
    return {rank * per, per};
  }
  return {int64_t{rank} * c.num_kv_heads / world, 1};
}

}  // namespace

Status check_shardable(const ModelConfig& c, int n) {
  if (n < 1 || n > 64) return InvalidArgumentError("--tp must be in [1, 64], got {}", n);
  auto refuse = [&](const char* what, int64_t value) {
    return InvalidArgumentError(
        "--tp {}: {} = {} is not divisible by {}, so the model cannot be split over {} ranks "
        "(values that work for this model: {})",
        n, what, value, n, n, working_values(c));
  };
  if (c.num_heads % n != 0) return refuse("num_attention_heads", c.num_heads);
  if (c.intermediate_size % n != 0) return refuse("intermediate_size", c.intermediate_size);
  if (c.num_kv_heads % n != 0 && n % c.num_kv_heads != 0) {
    return InvalidArgumentError(
        "--tp {}: num_key_value_heads = {} neither divides by {} nor divides it, so the KV heads "
        "cannot be split or replicated evenly (values that work for this model: {})",
        n, c.num_kv_heads, n, working_values(c));
  }
  return OkStatus();
}

ModelConfig shard_config(const ModelConfig& config, int rank, int world) {
  ModelConfig c = config;
  c.num_heads = config.num_heads / world;
  c.num_kv_heads = static_cast<int>(kv_heads_of(config, rank, world).second);
  c.intermediate_size = config.intermediate_size / world;
  return c;
}

FusedSource slice_rows(const FusedSource& s, int64_t begin, int64_t end) {
  FusedSource out;
  out.cols = s.cols;
  out.col_begin = s.col_begin;
  out.tensor_cols = s.tensor_cols;
  int64_t at = 0;  // the fused row where the current part starts
  for (const RowSlice& part : s.parts) {
    const int64_t n = part.row_end - part.row_begin;
    const int64_t lo = std::max(begin, at);
    const int64_t hi = std::min(end, at + n);
    if (lo < hi) {
      RowSlice p = part;
      p.row_begin = part.row_begin + (lo - at);
      p.row_end = part.row_begin + (hi - at);
      out.parts.push_back(std::move(p));
      out.rows += hi - lo;
    }
    at += n;
  }
  return out;
}

FusedSource slice_cols(const FusedSource& s, int64_t begin, int64_t end) {
  FusedSource out = s;
  out.tensor_cols = s.full_cols();
  out.col_begin = s.col_begin + begin;
  out.cols = end - begin;
  return out;
}

FusedSource concat_rows(FusedSource a, const FusedSource& b) {
  if (!a.present()) return b;
  a.parts.insert(a.parts.end(), b.parts.begin(), b.parts.end());
  a.rows += b.rows;
  return a;
}

ArchSources shard_sources(const ArchSources& full, const ModelConfig& c, int rank, int world) {
  if (world == 1) return full;
  const int64_t d = c.head_dim;
  const int64_t heads = c.num_heads / world;
  const int64_t q_begin = rank * heads * d;
  const int64_t q_end = q_begin + heads * d;
  const auto [kv_first, kv_count] = kv_heads_of(c, rank, world);
  const int64_t k_begin = c.q_dim() + kv_first * d;
  const int64_t v_begin = c.q_dim() + c.kv_dim() + kv_first * d;
  const int64_t kv_rows = kv_count * d;
  const int64_t inter = c.intermediate_size / world;
  const int64_t i_begin = rank * inter;

  auto qkv_rows = [&](const FusedSource& s) {
    if (!s.present()) return s;
    FusedSource out = slice_rows(s, q_begin, q_end);
    out = concat_rows(std::move(out), slice_rows(s, k_begin, k_begin + kv_rows));
    return concat_rows(std::move(out), slice_rows(s, v_begin, v_begin + kv_rows));
  };
  auto gate_up_rows = [&](const FusedSource& s) {
    if (!s.present()) return s;
    FusedSource out = slice_rows(s, i_begin, i_begin + inter);
    return concat_rows(std::move(out), slice_rows(s, c.intermediate_size + i_begin,
                                                  c.intermediate_size + i_begin + inter));
  };
  auto rank0_only = [&](const FusedSource& s) { return rank == 0 ? s : FusedSource{}; };

  ArchSources out;
  out.embedding = full.embedding;
  out.final_norm = full.final_norm;
  out.lm_head = rank0_only(full.lm_head);
  for (const LayerSources& l : full.layers) {
    LayerSources r;
    r.attn_norm = l.attn_norm;
    r.qkv = qkv_rows(l.qkv);
    r.qkv_bias = qkv_rows(l.qkv_bias);
    r.q_norm = l.q_norm;
    r.k_norm = l.k_norm;
    r.o = slice_cols(l.o, q_begin, q_end);
    r.o_bias = rank0_only(l.o_bias);
    r.mlp_norm = l.mlp_norm;
    r.gate_up = gate_up_rows(l.gate_up);
    r.gate_up_bias = gate_up_rows(l.gate_up_bias);
    r.down = slice_cols(l.down, i_begin, i_begin + inter);
    r.down_bias = rank0_only(l.down_bias);
    out.layers.push_back(std::move(r));
  }
  return out;
}

}  // namespace keel::model
