#include "keel/server/openai_response.h"

#include <nlohmann/json.hpp>

namespace keel::server {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json finish_reason_value(sampling::FinishReason reason) {
  if (reason == sampling::FinishReason::kNone) return nullptr;
  return std::string(sampling::finish_reason_name(reason));
}

json keel_choice_json(const ChoiceEnd& end) {
  json k = json::object();
  k["finish_detail"] = end.finish_detail.empty() ? json(nullptr) : json(end.finish_detail);
  k["preemptions"] = end.preemptions;
  k["adjustments"] = end.adjustments;
  if (end.seed) k["seed"] = *end.seed;
  return k;
}

json usage_value(const UsageInfo& u) {
  return json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"keel",
               {{"preemptions", u.preemptions},
                {"queue_seconds", u.queue_seconds},
                {"ttft_seconds", u.ttft_seconds},
                {"e2e_seconds", u.e2e_seconds}}}};
}

json envelope(const CompletionIds& ids, std::string_view object = "text_completion") {
  return json{{"id", ids.id},
              {"object", object},
              {"created", ids.created_unix_seconds},
              {"model", ids.model}};
}

json model_value(const ModelInfo& m) {
  return json{{"id", m.name},
              {"object", "model"},
              {"created", m.created_unix_seconds},
              {"owned_by", "keel"},
              {"max_model_len", m.max_model_len}};
}

}  // namespace

ChoiceEnd choice_end_from(const GenerationFinal& f) {
  ChoiceEnd e;
  e.finish_reason = f.finish_reason;
  e.finish_detail = f.finish_detail;
  e.preemptions = f.num_preemptions;
  e.adjustments = f.adjustments;
  e.seed = f.seed;
  return e;
}

std::string completion_response_json(const CompletionIds& ids,
                                     std::span<const ChoiceResult> choices,
                                     const UsageInfo& usage) {
  json j = envelope(ids);
  json arr = json::array();
  for (const ChoiceResult& c : choices) {
    arr.push_back(json{{"index", c.index},
                       {"text", c.text},
                       {"logprobs", nullptr},
                       {"finish_reason", finish_reason_value(c.end.finish_reason)},
                       {"keel", keel_choice_json(c.end)}});
  }
  j["choices"] = std::move(arr);
  j["usage"] = usage_value(usage);
  return dump(j);
}

std::string completion_chunk_json(const CompletionIds& ids, int64_t index, std::string_view text,
                                  const ChoiceEnd* end, bool include_usage) {
  json j = envelope(ids);
  json choice{{"index", index},
              {"text", text},
              {"logprobs", nullptr},
              {"finish_reason", end ? finish_reason_value(end->finish_reason) : json(nullptr)}};
  if (end) choice["keel"] = keel_choice_json(*end);
  j["choices"] = json::array({std::move(choice)});
  if (include_usage) j["usage"] = nullptr;
  return dump(j);
}

std::string usage_chunk_json(const CompletionIds& ids, const UsageInfo& usage) {
  json j = envelope(ids);
  j["choices"] = json::array();
  j["usage"] = usage_value(usage);
  return dump(j);
}

std::string chat_response_json(const CompletionIds& ids, std::span<const ChoiceResult> choices,
                               const UsageInfo& usage) {
  json j = envelope(ids, "chat.completion");
  json arr = json::array();
  for (const ChoiceResult& c : choices) {
    arr.push_back(json{{"index", c.index},
                       {"message", {{"role", "assistant"}, {"content", c.text}}},
                       {"logprobs", nullptr},
                       {"finish_reason", finish_reason_value(c.end.finish_reason)},
                       {"keel", keel_choice_json(c.end)}});
  }
  j["choices"] = std::move(arr);
  j["usage"] = usage_value(usage);
  return dump(j);
}

std::string chat_chunk_json(const CompletionIds& ids, int64_t index, bool role_chunk,
                            std::string_view text, const ChoiceEnd* end, bool include_usage) {
  json j = envelope(ids, "chat.completion.chunk");
  json delta = json::object();
  if (role_chunk) {
    delta["role"] = "assistant";
    delta["content"] = text;
  } else if (!text.empty() || !end) {
    delta["content"] = text;
  }
  json choice{{"index", index},
              {"delta", std::move(delta)},
              {"logprobs", nullptr},
              {"finish_reason", end ? finish_reason_value(end->finish_reason) : json(nullptr)}};
  if (end) choice["keel"] = keel_choice_json(*end);
  j["choices"] = json::array({std::move(choice)});
  if (include_usage) j["usage"] = nullptr;
  return dump(j);
}

std::string chat_usage_chunk_json(const CompletionIds& ids, const UsageInfo& usage) {
  json j = envelope(ids, "chat.completion.chunk");
  j["choices"] = json::array();
  j["usage"] = usage_value(usage);
  return dump(j);
}

std::string error_json(const ApiError& e) {
  json err{{"message", e.message},
           {"type", e.type},
           {"param", e.param ? json(*e.param) : json(nullptr)},
           {"code", e.code.empty() ? json(nullptr) : json(e.code)}};
  return dump(json{{"error", std::move(err)}});
}

std::string model_json(const ModelInfo& m) { return dump(model_value(m)); }

std::string model_list_json(const ModelInfo& m) {
  return dump(json{{"object", "list"}, {"data", json::array({model_value(m)})}});
}

std::string sse_event(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out += "data: ";
  out += payload;
  out += "\n\n";
  return out;
}

}  // namespace keel::server
