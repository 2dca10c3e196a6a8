#include "keel/template/chat_template.h"

#include <fstream>
#include <sstream>

#include "keel/core/json_depth.h"

namespace keel::jinja {
namespace {

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open {}", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return DataLossError("error reading {}", path.string());
  return ss.str();
}

nlohmann::ordered_json special_tokens_of(const nlohmann::ordered_json& config) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [k, v] : config.items()) {
    bool is_token = k.size() > 6 && k.compare(k.size() - 6, 6, "_token") == 0;
    if (!is_token && k != "additional_special_tokens") continue;
    auto content = [](const nlohmann::ordered_json& t) -> std::optional<std::string> {
      if (t.is_string()) return t.get<std::string>();
      if (t.is_object() && t.contains("content") && t["content"].is_string()) return t["content"].get<std::string>();
      return std::nullopt;
    };
    if (k == "additional_special_tokens") {
      if (!v.is_array()) continue;
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& t : v) {
        if (auto c = content(t)) list.push_back(*c);
      }
      out[k] = list;
    } else if (auto c = content(v)) {
      out[k] = *c;
    }
  }
  return out;
}

}  // namespace

Result<std::string> ChatTemplate::render_chat(const ChatOptions& options) const {
  if (!options.messages.is_array()) return InvalidArgumentError("messages must be a JSON array");
  if (!options.kwargs.is_object()) return InvalidArgumentError("template kwargs must be a JSON object");
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = options.messages;
  context["tools"] = options.tools ? *options.tools : nlohmann::ordered_json(nullptr);
  context["documents"] = options.documents ? *options.documents : nlohmann::ordered_json(nullptr);
  context["add_generation_prompt"] = options.add_generation_prompt;
  for (const auto& [k, v] : special_tokens_.items()) context[k] = v;
  for (const auto& [k, v] : options.kwargs.items()) context[k] = v;
  return compiled_.render(context, options.render);
}

Result<ChatTemplate> load_chat_template(const std::filesystem::path& model_dir, std::optional<std::string> name,
                                        const CompileOptions& options) {
  std::error_code ec;
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  std::filesystem::path config_path = model_dir / "tokenizer_config.json";
  bool have_config = std::filesystem::exists(config_path, ec);
  if (have_config) {
    KEEL_ASSIGN_OR_RETURN(std::string text, read_file(config_path));
    KEEL_RETURN_IF_ERROR(check_json_depth(text, config_path.string()));
    try {
      config = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      return InvalidArgumentError("{}: not valid JSON: {}", config_path.string(), e.what());
    }
    if (!config.is_object()) return InvalidArgumentError("{}: expected a JSON object", config_path.string());
  }
  std::string chosen = name.value_or("default");
  std::string source;
  std::filesystem::path jinja_path = model_dir / "chat_template.jinja";
  std::filesystem::path named_path = model_dir / "additional_chat_templates" / (chosen + ".jinja");
  if (chosen != "default" && std::filesystem::exists(named_path, ec)) {
    KEEL_ASSIGN_OR_RETURN(source, read_file(named_path));
  } else if (chosen == "default" && std::filesystem::exists(jinja_path, ec)) {
    KEEL_ASSIGN_OR_RETURN(source, read_file(jinja_path));
  } else if (config.contains("chat_template") && config["chat_template"].is_string()) {
    if (chosen != "default") {
      return NotFoundError("{} has no chat template named '{}' (only the default one)", model_dir.string(), chosen);
    }
    source = config["chat_template"].get<std::string>();
  } else if (config.contains("chat_template") && config["chat_template"].is_array()) {
    std::string names;
    bool found = false;
    for (const auto& entry : config["chat_template"]) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
          !entry.contains("template") || !entry["template"].is_string()) {
        return InvalidArgumentError("{}: chat_template entries must be {{\"name\", \"template\"}} objects",
                                    config_path.string());
      }
      std::string n = entry["name"].get<std::string>();
      names += (names.empty() ? "" : ", ") + n;
      if (n == chosen) {
        source = entry["template"].get<std::string>();
        found = true;
      }
    }
    if (!found) {
      return NotFoundError("{} has no chat template named '{}'; it has: {}", model_dir.string(), chosen, names);
    }
  } else {
    return NotFoundError("{} has no chat template (no chat_template.jinja, and {} has no \"chat_template\")",
                         model_dir.string(), have_config ? config_path.string() : "no tokenizer_config.json");
  }
  Result<Template> compiled = Template::compile(source, options);
  if (!compiled.ok()) return compiled.status().with_context("chat template '" + chosen + "'");
  return ChatTemplate(chosen, std::move(source), std::move(compiled).value(), special_tokens_of(config));
}

}  // namespace keel::jinja
