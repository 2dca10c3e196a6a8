#include "keel/model/arch/arch.h"

namespace keel::model {

FusedSource whole(std::string tensor, int64_t rows, int64_t cols) {
  FusedSource s;
  s.parts.push_back({std::move(tensor), 0, rows, rows});
  s.rows = rows;
  s.cols = cols;
  return s;
}

FusedSource stacked(const std::vector<std::pair<std::string, int64_t>>& tensors, int64_t cols) {
  FusedSource s;
  s.cols = cols;
  for (const auto& [name, rows] : tensors) {
    s.parts.push_back({name, 0, rows, rows});
    s.rows += rows;
  }
  return s;
}

ArchSources arch_sources(const ModelConfig& config) {
  switch (config.arch) {
    case Architecture::kLlama:
      return llama_sources(config);
    case Architecture::kMistral:
      return mistral_sources(config);
    case Architecture::kQwen2:
      return qwen2_sources(config);
    case Architecture::kQwen3:
      return qwen3_sources(config);
    case Architecture::kInternLM2:
      return internlm2_sources(config);
  }
  return llama_sources(config);
}

}  // namespace keel::model
