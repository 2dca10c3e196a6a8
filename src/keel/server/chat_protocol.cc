// /v1/chat/completions request parsing (declared in openai_protocol.h): the
// messages, tools and tool_choice, and the chat-only fields; the generation
// options go through the same parser as /v1/completions.
#include <fmt/format.h>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "keel/server/openai_protocol.h"
#include "keel/server/openai_protocol_internal.h"

namespace keel::server {
namespace {

using protocol_internal::bad;
using protocol_internal::check_cross_fields;
using protocol_internal::Error;
using protocol_internal::json;
using protocol_internal::ojson;
using protocol_internal::parse_body;
using protocol_internal::parse_option;
using protocol_internal::read_bool;
using protocol_internal::show;
using protocol_internal::wrong_type;

// One message's content: a string, null, or a list of parts whose text parts
// are joined with "\n" (vLLM); any other part type is refused by name.
Error parse_content(const ojson& v, const std::string& param, ojson& out) {
  if (v.is_null() || v.is_string()) {
    out = v;
    return std::nullopt;
  }
  if (!v.is_array()) return wrong_type(param, "a string, an array of content parts or null", v);
  std::string text;
  for (size_t i = 0; i < v.size(); ++i) {
    const ojson& part = v[i];
    const std::string pp = fmt::format("{}[{}]", param, i);
    if (!part.is_object()) return wrong_type(pp, "an object {\"type\": \"text\", \"text\": ...}", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return bad(pp + ".type", fmt::format("{}.type must be a string (\"text\")", pp));
    }
    if (type->get<std::string>() != "text") {
      return bad(pp + ".type",
                 fmt::format("{}.type \"{}\" is not supported; only \"text\" parts are", pp,
                             type->get<std::string>()));
    }
    auto t = part.find("text");
    if (t == part.end() || !t->is_string()) {
      return wrong_type(pp + ".text", "a string", t == part.end() ? ojson() : *t);
    }
    if (i > 0) text += "\n";
    text += t->get<std::string>();
  }
  out = std::move(text);
  return std::nullopt;
}

Error parse_tool_calls(const ojson& v, const std::string& param) {
  if (!v.is_array()) return wrong_type(param, "an array of tool calls", v);
  for (size_t i = 0; i < v.size(); ++i) {
    const ojson& call = v[i];
    const std::string cp = fmt::format("{}[{}]", param, i);
    if (!call.is_object()) return wrong_type(cp, "an object", call);
    auto fn = call.find("function");
    if (fn == call.end() || !fn->is_object()) {
      return wrong_type(cp + ".function", "an object {\"name\", \"arguments\"}",
                        fn == call.end() ? ojson() : *fn);
    }
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string()) {
      return wrong_type(cp + ".function.name", "a string", name == fn->end() ? ojson() : *name);
    }
    auto args = fn->find("arguments");
    if (args != fn->end() && !args->is_string() && !args->is_object()) {
      return wrong_type(cp + ".function.arguments", "a JSON string or an object", *args);
    }
  }
  return std::nullopt;
}

Error parse_messages(const ojson& v, const ProtocolLimits& limits, ojson& out) {
  if (!v.is_array()) return wrong_type("messages", "an array of messages", v);
  if (v.empty()) return bad("messages", "messages must not be empty");
  if (v.size() > limits.max_messages) {
    return bad("messages", fmt::format("messages may hold at most {} messages, got {}",
                                       limits.max_messages, v.size()));
  }
  static const std::set<std::string, std::less<>> kRoles = {"system", "user", "assistant", "tool"};
  out = ojson::array();
  for (size_t i = 0; i < v.size(); ++i) {
    const ojson& m = v[i];
    const std::string mp = fmt::format("messages[{}]", i);
    if (!m.is_object()) return wrong_type(mp, "an object {\"role\", \"content\"}", m);
    auto role = m.find("role");
    if (role == m.end()) return bad(mp + ".role", mp + ".role is required");
    if (!role->is_string()) return wrong_type(mp + ".role", "a string", *role);
    const std::string r = role->get<std::string>();
    if (kRoles.count(r) == 0) {
      return bad(mp + ".role",
                 fmt::format("{}.role must be one of system, user, assistant, tool; got \"{}\"", mp,
                             r));
    }
    ojson msg = ojson::object();
    bool has_content = false, has_tool_calls = false;
    for (const auto& [key, val] : m.items()) {
      const std::string kp = mp + "." + key;
      if (key == "content") {
        ojson content;
        KEEL_PARSE_TRY(parse_content(val, kp, content));
        has_content = !content.is_null();
        msg[key] = std::move(content);
        continue;
      }
      if (key == "tool_calls") {
        if (val.is_null()) continue;
        if (r != "assistant") return bad(kp, fmt::format("{} is only allowed for assistant messages", kp));
        KEEL_PARSE_TRY(parse_tool_calls(val, kp));
        has_tool_calls = !val.empty();
      } else if (key == "tool_call_id" || key == "name") {
        if (val.is_null()) continue;
        if (!val.is_string()) return wrong_type(kp, "a string", val);
      }
      msg[key] = val;
    }
    if (!has_content && !(r == "assistant" && has_tool_calls)) {
      return bad(mp + ".content",
                 fmt::format("{}.content is required (a string or an array of text parts)", mp));
    }
    out.push_back(std::move(msg));
  }
  return std::nullopt;
}

Error parse_tools(const ojson& v, ojson& out) {
  if (!v.is_array()) return wrong_type("tools", "an array of tool definitions", v);
  for (size_t i = 0; i < v.size(); ++i) {
    const ojson& t = v[i];
    const std::string tp = fmt::format("tools[{}]", i);
    if (!t.is_object()) return wrong_type(tp, "an object {\"type\": \"function\", \"function\"}", t);
    auto type = t.find("type");
    if (type != t.end() && !(type->is_string() && type->get<std::string>() == "function")) {
      return bad(tp + ".type", fmt::format("{}.type must be \"function\", got {}", tp, show(*type)));
    }
    auto fn = t.find("function");
    if (fn == t.end() || !fn->is_object()) {
      return wrong_type(tp + ".function", "an object {\"name\", \"description\", \"parameters\"}",
                        fn == t.end() ? ojson() : *fn);
    }
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string() || name->get<std::string>().empty()) {
      return wrong_type(tp + ".function.name", "a non-empty string",
                        name == fn->end() ? ojson() : *name);
    }
  }
  out = v;
  return std::nullopt;
}

Error parse_tool_choice(const ojson& v, ojson& out) {
  if (v.is_string()) {
    const std::string c = v.get<std::string>();
    if (c == "none" || c == "auto") {
      out = v;
      return std::nullopt;
    }
    if (c == "required") {
      return bad("tool_choice", "tool_choice \"required\" is not supported yet; use \"auto\"");
    }
    return bad("tool_choice",
               fmt::format("tool_choice must be \"none\", \"auto\" or an object, got \"{}\"", c));
  }
  if (!v.is_object()) return wrong_type("tool_choice", "\"none\", \"auto\" or an object", v);
  auto fn = v.find("function");
  if (fn == v.end() || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string()) {
    return bad("tool_choice",
               "tool_choice as an object must be {\"type\": \"function\", \"function\": "
               "{\"name\": ...}}");
  }
  out = v;
  return std::nullopt;
}

Error parse_chat(const json& body, const ojson& obody, const ProtocolLimits& limits,
                 ChatCompletionRequest& r) {
  r.options.max_tokens.reset();  // chat: the rest of the window unless set
  bool has_model = false, has_messages = false;
  bool has_max_tokens = false;
  for (const auto& [key, v] : body.items()) {
    if (key == "logprobs") {  // chat's logprobs is a boolean
      if (v.is_null() || (v.is_boolean() && !v.get<bool>())) continue;
      return bad(key, "logprobs is not supported yet; omit it or send false");
    }
    if (key == "max_completion_tokens") {
      if (has_max_tokens && !v.is_null()) {
        return bad(key, "send max_tokens or max_completion_tokens, not both");
      }
      bool known = false;
      KEEL_PARSE_TRY(parse_option("max_tokens", v, limits, r.options, known));
      has_max_tokens = !v.is_null();
      continue;
    }
    bool known = false;
    KEEL_PARSE_TRY(parse_option(key, v, limits, r.options, known));
    if (known) {
      if (key == "max_tokens") {
        if (has_max_tokens && !v.is_null()) {
          return bad(key, "send max_tokens or max_completion_tokens, not both");
        }
        has_max_tokens = !v.is_null();
      }
      continue;
    }
    const ojson& ov = obody[key];
    if (key == "model") {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return wrong_type("model", "a non-empty string", v);
      }
      r.model = v.get<std::string>();
      has_model = true;
    } else if (key == "messages") {
      if (v.is_null()) return bad("messages", "messages is required");
      KEEL_PARSE_TRY(parse_messages(ov, limits, r.messages));
      has_messages = true;
    } else if (key == "tools") {
      if (ov.is_null()) continue;
      ojson tools;
      KEEL_PARSE_TRY(parse_tools(ov, tools));
      r.tools = std::move(tools);
    } else if (key == "tool_choice") {
      if (ov.is_null()) continue;
      ojson choice;
      KEEL_PARSE_TRY(parse_tool_choice(ov, choice));
      r.tool_choice = std::move(choice);
    } else if (key == "parallel_tool_calls") {
      if (!v.is_null() && !v.is_boolean()) return wrong_type(key, "a boolean", v);
    } else if (key == "chat_template_kwargs") {
      if (ov.is_null()) continue;
      if (!ov.is_object()) return wrong_type(key, "an object of template variables", v);
      r.chat_template_kwargs = ov;
    } else if (key == "add_generation_prompt") {
      if (!v.is_null()) KEEL_PARSE_TRY(read_bool(v, key, r.add_generation_prompt));
    } else if (key == "continue_final_message") {
      bool on = false;
      if (!v.is_null()) KEEL_PARSE_TRY(read_bool(v, key, on));
      if (on) {
        return bad(key,
                   "continue_final_message is not supported yet; send the prefix through "
                   "/v1/completions instead");
      }
    } else {
      return bad(key, fmt::format("unknown field \"{}\" for /v1/chat/completions", key));
    }
  }
  if (!has_model) return bad("model", "model is required");
  if (!has_messages) return bad("messages", "messages is required");
  KEEL_PARSE_TRY(check_cross_fields(body, r.options));
  if (r.options.n > limits.max_choices) {
    return bad("n", fmt::format("n must be at most {}, got {}", limits.max_choices, r.options.n));
  }
  Status s = sampling::validate(r.options.sampling, limits.vocab_size);
  if (!s.ok()) return bad("sampling", std::string(s.message()));
  return std::nullopt;
}

}  // namespace

Parsed<ChatCompletionRequest> parse_chat_completion_request(std::string_view body,
                                                            const ProtocolLimits& limits) {
  Parsed<ChatCompletionRequest> out;
  // Parsed twice: the shared option parsers take json; messages and tools
  // need ordered_json so that the template sees the client's key order.
  json j;
  ojson oj;
  if (Error e = parse_body(body, j)) {
    out.error = std::move(*e);
    return out;
  }
  if (Error e = parse_body(body, oj)) {
    out.error = std::move(*e);
    return out;
  }
  ChatCompletionRequest r;
  if (Error e = parse_chat(j, oj, limits, r)) {
    out.error = std::move(*e);
    return out;
  }
  out.value = std::move(r);
  return out;
}

}  // namespace keel::server
