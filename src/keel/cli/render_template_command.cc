// keel render-template: a model folder's chat template applied to messages,
// as transformers' apply_chat_template(..., tokenize=False) renders it.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "keel/cli/commands.h"
#include "keel/core/json_depth.h"
#include "keel/template/chat_template.h"

namespace keel::cli {
namespace {

using nlohmann::ordered_json;

struct RenderTemplateOptions {
  std::string model_dir;
  std::string template_file;
  std::string messages_file;
  bool add_generation_prompt = false;
  std::string template_name;
  std::string kwargs = "{}";
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel: %s\n", message.c_str());
  return 1;
}

Result<std::string> read_all(const std::string& path) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open {}", path);
  ss << in.rdbuf();
  return ss.str();
}

int run(const RenderTemplateOptions& o) {
  auto text = read_all(o.messages_file);
  if (!text.ok()) return fail(std::string(text.status().message()));
  ordered_json input, kwargs;
  if (const Status deep = check_json_depth(*text, o.messages_file); !deep.ok()) {
    return fail(std::string(deep.message()));
  }
  if (const Status deep = check_json_depth(o.kwargs, "--kwargs"); !deep.ok()) {
    return fail(std::string(deep.message()));
  }
  try {
    input = ordered_json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    return fail(o.messages_file + ": not valid JSON: " + e.what());
  }
  try {
    kwargs = ordered_json::parse(o.kwargs);
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("--kwargs: not valid JSON: ") + e.what());
  }
  if (!kwargs.is_object()) return fail("--kwargs must be a JSON object");
  jinja::ChatOptions chat;
  // Either a list of messages or {"messages": [...], "tools": [...], "documents": [...]}.
  if (input.is_object() && input.contains("messages")) {
    chat.messages = input["messages"];
    if (input.contains("tools") && !input["tools"].is_null()) chat.tools = input["tools"];
    if (input.contains("documents") && !input["documents"].is_null()) chat.documents = input["documents"];
  } else {
    chat.messages = input;
  }
  if (!chat.messages.is_array()) {
    return fail(o.messages_file + ": expected a JSON array of messages or an object with \"messages\"");
  }
  for (const auto& m : chat.messages) {
    if (!m.is_object() || !m.contains("role")) {
      return fail(o.messages_file + ": each message must be an object with a \"role\"");
    }
  }
  chat.add_generation_prompt = o.add_generation_prompt;
  chat.kwargs = kwargs;
  Result<std::string> out = InternalError("unreachable");
  if (!o.template_file.empty()) {
    auto source = read_all(o.template_file);
    if (!source.ok()) return fail(std::string(source.status().message()));
    auto compiled = jinja::Template::compile(*source);
    if (!compiled.ok()) return fail(o.template_file + ": " + std::string(compiled.status().message()));
    jinja::ChatTemplate tmpl("default", *source, std::move(compiled).value(), ordered_json::object());
    out = tmpl.render_chat(chat);
  } else {
    std::optional<std::string> name;
    if (!o.template_name.empty()) name = o.template_name;
    auto tmpl = jinja::load_chat_template(o.model_dir, name);
    if (!tmpl.ok()) return fail(tmpl.status().to_string());
    out = tmpl->render_chat(chat);
  }
  if (!out.ok()) return fail("rendering the chat template: " + out.status().to_string());
  std::fwrite(out->data(), 1, out->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

Runner add_render_template_command(CLI::App& app) {
  auto opts = std::make_shared<RenderTemplateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "render-template", "Render a model's chat template over messages (prints the prompt exactly)");
  auto* model = cmd->add_option("--model", opts->model_dir,
                                "model folder (chat_template.jinja or tokenizer_config.json)");
  auto* file = cmd->add_option("--template", opts->template_file,
                               "a template file instead of the model's (no special tokens)");
  model->excludes(file);
  cmd->add_option("--messages", opts->messages_file,
                  "JSON file ('-' for stdin): a list of messages, or {\"messages\", \"tools\", \"documents\"}")
      ->required();
  cmd->add_flag("--add-generation-prompt", opts->add_generation_prompt, "end with the assistant's header");
  cmd->add_option("--template-name", opts->template_name, "a named template (tokenizer_config.json list)");
  cmd->add_option("--kwargs", opts->kwargs, "extra template variables as a JSON object, e.g. '{\"enable_thinking\": false}'");
  return [opts, model, file] {
    if (model->count() == 0 && file->count() == 0) return fail("render-template: give --model DIR or --template FILE");
    return run(*opts);
  };
}

}  // namespace keel::cli
