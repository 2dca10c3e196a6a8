// make_post_processor: dispatches a tokenizer.json post_processor object to
// its constructor; also the Sequence post-processor and offset trimming.
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/factories.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/processors/processors.h"

namespace keel::tokenizer {
namespace {

// Applies its post-processors in order (each may add tokens around the
// previous result). Immutable; thread-safe.
class SequenceProcessor final : public PostProcessor, public OffsetTrimmer {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> processors)
      : processors_(std::move(processors)) {}

  size_t added_tokens_single() const override {
    size_t n = 0;
    for (const auto& p : processors_) n += p->added_tokens_single();
    return n;
  }

  Status process_single(std::vector<uint32_t>& ids,
                        std::vector<std::pair<uint32_t, uint32_t>>* offsets) const override {
    for (const auto& p : processors_) KEEL_RETURN_IF_ERROR(p->process_single(ids, offsets));
    return OkStatus();
  }

  std::optional<OffsetTrimming> trimming() const override {
    for (const auto& p : processors_) {
      if (auto t = offset_trimming(*p)) return t;
    }
    return std::nullopt;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> processors_;
};

constexpr const char* kSupported =
    "BertProcessing, ByteLevel, RobertaProcessing, Sequence, TemplateProcessing";

// Leading (or trailing) characters of `token` that are 'Ġ' or whitespace.
size_t count_spaces(std::string_view token, bool leading) {
  auto is_space = [](char32_t c) {
    return c == 0x120 || c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
  };
  std::vector<char32_t> chars;
  size_t i = 0;
  while (i < token.size()) {
    const utf8::Decoded d = utf8::decode(token, i);
    chars.push_back(d.code_point);
    i += d.length;
  }
  size_t n = 0;
  if (leading) {
    while (n < chars.size() && is_space(chars[n])) ++n;
  } else {
    while (n < chars.size() && is_space(chars[chars.size() - 1 - n])) ++n;
  }
  return n;
}

}  // namespace

std::optional<OffsetTrimming> offset_trimming(const PostProcessor& processor) {
  if (const auto* t = dynamic_cast<const OffsetTrimmer*>(&processor)) return t->trimming();
  return std::nullopt;
}

void trim_byte_level_offsets(std::span<const std::string_view> tokens,
                             const OffsetTrimming& trimming,
                             std::vector<std::pair<uint32_t, uint32_t>>& offsets) {
  const size_t n = std::min(tokens.size(), offsets.size());
  for (size_t i = 0; i < n; ++i) {
    auto& [begin, end] = offsets[i];
    size_t leading = count_spaces(tokens[i], /*leading=*/true);
    const size_t trailing = count_spaces(tokens[i], /*leading=*/false);
    if (leading > 0) {
      const bool is_first = i == 0 || begin == 0;
      if (is_first && trimming.add_prefix_space && leading == 1) leading = 0;
      begin = static_cast<uint32_t>(std::min<size_t>(begin + leading, end));
    }
    if (trailing > 0 && end >= trailing) {
      end = static_cast<uint32_t>(std::max<size_t>(end - trailing, begin));
    }
  }
}

void trim_byte_level_offsets(std::string_view text, std::span<const std::string_view> tokens,
                             const OffsetTrimming& trimming,
                             std::vector<std::pair<uint32_t, uint32_t>>& offsets) {
  auto is_continuation = [&](uint32_t p) {
    return (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80;
  };
  const size_t n = std::min(tokens.size(), offsets.size());
  for (size_t i = 0; i < n; ++i) {
    auto& [begin, end] = offsets[i];
    size_t leading = count_spaces(tokens[i], /*leading=*/true);
    const size_t trailing = count_spaces(tokens[i], /*leading=*/false);
    if (leading > 0) {
      const bool is_first = i == 0 || begin == 0;
      if (is_first && trimming.add_prefix_space && leading == 1) leading = 0;
      // begin = min(begin + leading characters, end)
      for (size_t k = 0; k < leading && begin < end; ++k) {
        ++begin;
        while (begin < end && is_continuation(begin)) ++begin;
      }
    }
    if (trailing > 0) {
      // Only when the end is at least `trailing` characters into the text;
      // then end = max(end - trailing characters, begin).
      uint32_t p = std::min<uint32_t>(end, static_cast<uint32_t>(text.size()));
      size_t k = 0;
      for (; k < trailing && p > 0; ++k) {
        --p;
        while (p > 0 && is_continuation(p)) --p;
      }
      if (k == trailing) end = std::max(p, begin);
    }
  }
}

ProcessorResult make_sequence_processor(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* list, json::get_array(j, "processors", path));
  std::vector<std::unique_ptr<PostProcessor>> processors;
  const std::string list_path = json::child_path(path, "processors");
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string item_path = json::index_path(list_path, i);
    if ((*list)[i].is_null()) {
      return InvalidArgumentError("{}: expected a post-processor object, got null", item_path);
    }
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<PostProcessor> p,
                          make_post_processor((*list)[i], item_path));
    processors.push_back(std::move(p));
  }
  return std::unique_ptr<PostProcessor>(std::make_unique<SequenceProcessor>(std::move(processors)));
}

Result<std::unique_ptr<PostProcessor>> make_post_processor(const nlohmann::json& j,
                                                          const std::string& path) {
  if (j.is_null()) return std::unique_ptr<PostProcessor>();
  KEEL_ASSIGN_OR_RETURN(const std::string type, json::get_type(j, path));
  if (type == "TemplateProcessing") return make_template_processor(j, path);
  if (type == "BertProcessing") return make_bert_processor(j, path);
  if (type == "RobertaProcessing") return make_roberta_processor(j, path);
  if (type == "ByteLevel") return make_byte_level_processor(j, path);
  if (type == "Sequence") return make_sequence_processor(j, path);
  return json::unknown_type("post-processor", type, path, kSupported);
}

}  // namespace keel::tokenizer
