// Post-processors (TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel, Sequence) and HF's ByteLevel offset trimming.
//
// keel encodes single sequences only: pair templates are parsed and checked
// but never applied. Offsets of added special tokens are (0, 0).
//
// Offset trimming: ByteLevel and RobertaProcessing with trim_offsets move a
// token's offsets past its leading/trailing spaces ('Ġ'). That needs the
// tokens' strings, which PostProcessor::process_single does not see, so in
// offsets mode the tokenizer asks offset_trimming() and calls
// trim_byte_level_offsets() on the sequence's own tokens before
// process_single (HF trims before adding special tokens, as long as the
// trimming processor comes first in a Sequence). Thread-safety: everything
// here is immutable/pure.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

using ProcessorResult = Result<std::unique_ptr<PostProcessor>>;

ProcessorResult make_template_processor(const nlohmann::json& j, const std::string& path);
ProcessorResult make_bert_processor(const nlohmann::json& j, const std::string& path);
ProcessorResult make_roberta_processor(const nlohmann::json& j, const std::string& path);
ProcessorResult make_byte_level_processor(const nlohmann::json& j, const std::string& path);
ProcessorResult make_sequence_processor(const nlohmann::json& j, const std::string& path);

struct OffsetTrimming {
  bool add_prefix_space = true;
};

// Implemented by the post-processors that may trim offsets (and Sequence).
class OffsetTrimmer {
 public:
  virtual ~OffsetTrimmer() = default;
  virtual std::optional<OffsetTrimming> trimming() const = 0;
};

// The trimming `processor` asks for (ByteLevel or RobertaProcessing with
// trim_offsets, also inside a Sequence; the first one found), or nullopt.
std::optional<OffsetTrimming> offset_trimming(const PostProcessor& processor);

// HF's byte-level process_offsets: `tokens` are the sequence's tokens in
// tokenizer.json form ('Ġ' for a space byte), `offsets` their byte ranges.
// Leading spaces move the start right (except the single space a prefix-space
// adds to a first token when add_prefix_space); trailing spaces move the end
// left; a range never inverts.
void trim_byte_level_offsets(std::span<const std::string_view> tokens,
                             const OffsetTrimming& trimming,
                             std::vector<std::pair<uint32_t, uint32_t>>& offsets);
// The same on byte offsets into `text` (valid UTF-8), moving by characters of
// `text`: the byte form of what HF computes on character offsets (its
// Python/Node bindings), where each space trimmed is one character.
void trim_byte_level_offsets(std::string_view text, std::span<const std::string_view> tokens,
                             const OffsetTrimming& trimming,
                             std::vector<std::pair<uint32_t, uint32_t>>& offsets);

}  // namespace keel::tokenizer
