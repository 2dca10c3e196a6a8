// A model folder's chat template and the transformers-style render around
// it (`tokenizer.apply_chat_template(messages, tools=..., documents=...,
// add_generation_prompt=..., **kwargs)` with tokenize=False).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "keel/core/result.h"
#include "keel/template/template.h"

namespace keel::jinja {

struct ChatOptions {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  // Absent is passed to the template as None, as transformers does.
  std::optional<nlohmann::ordered_json> tools;
  std::optional<nlohmann::ordered_json> documents;
  bool add_generation_prompt = false;
  // Extra template variables (enable_thinking, ...); they override the
  // special tokens of the same name.
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
  RenderOptions render;
};

class ChatTemplate {
 public:
  ChatTemplate(std::string name, std::string source, Template compiled, nlohmann::ordered_json special_tokens)
      : name_(std::move(name)), source_(std::move(source)), compiled_(std::move(compiled)),
        special_tokens_(std::move(special_tokens)) {}

  // "default", or the name of the template chosen from a named list.
  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }
  // bos_token, eos_token, ... as strings (from tokenizer_config.json; a
  // token given as {"content": ...} is its content; null ones are absent).
  const nlohmann::ordered_json& special_tokens() const { return special_tokens_; }

  // The prompt text: the template rendered with messages, tools, documents,
  // add_generation_prompt, the special tokens and the kwargs.
  Result<std::string> render_chat(const ChatOptions& options) const;

 private:
  std::string name_;
  std::string source_;
  Template compiled_;
  nlohmann::ordered_json special_tokens_;
};

// Loads `model_dir`'s template: chat_template.jinja if present (a named one
// from additional_chat_templates/<name>.jinja), else tokenizer_config.json's
// "chat_template" — a string, or a list of {"name", "template"} from which
// `name` (default "default") is chosen. NotFound (listing the names there
// are) when there is none; InvalidArgument when it does not compile.
Result<ChatTemplate> load_chat_template(const std::filesystem::path& model_dir,
                                        std::optional<std::string> name = std::nullopt,
                                        const CompileOptions& options = {});

}  // namespace keel::jinja
