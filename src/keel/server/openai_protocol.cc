#include "keel/server/openai_protocol.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "keel/server/openai_protocol_internal.h"

namespace keel::server {
namespace protocol_internal {

Error bad(std::string_view param, std::string message) {
  return invalid_request(std::string(param), std::move(message));
}

Error read_bool(const json& v, std::string_view param, bool& out) {
  if (!v.is_boolean()) return wrong_type(param, "a boolean", v);
  out = v.get<bool>();
  return std::nullopt;
}

}  // namespace protocol_internal

namespace {

using protocol_internal::bad;
using protocol_internal::check_cross_fields;
using protocol_internal::Error;
using protocol_internal::json;
using protocol_internal::parse_body;
using protocol_internal::parse_option;
using protocol_internal::read_bool;
using protocol_internal::show;
using protocol_internal::type_name;
using protocol_internal::wrong_type;

// Integers: JSON integers, or numbers with no fraction (16.0), in [lo, hi].
Error read_int(const json& v, std::string_view param, int64_t lo, int64_t hi, int64_t& out,
               std::string_view range_text) {
  std::string expected = fmt::format("an integer {}", range_text);
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) {
      return bad(param, fmt::format("{} must be {}, got {}", param, expected, show(v)));
    }
    out = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.2e18 || d > 9.2e18) {
      return bad(param, fmt::format("{} must be {}, got {}", param, expected, show(v)));
    }
    out = static_cast<int64_t>(d);
  } else {
    return wrong_type(param, expected, v);
  }
  if (out < lo || out > hi) {
    return bad(param, fmt::format("{} must be {}, got {}", param, expected, show(v)));
  }
  return std::nullopt;
}

// Numbers in a range; `range_text` says it ("in [0, 2]").
template <typename Pred>
Error read_number(const json& v, std::string_view param, Pred in_range, std::string_view range_text,
                  double& out) {
  if (!v.is_number()) return wrong_type(param, fmt::format("a number {}", range_text), v);
  out = v.get<double>();
  if (!std::isfinite(out) || !in_range(out)) {
    return bad(param, fmt::format("{} must be a number {}, got {}", param, range_text, show(v)));
  }
  return std::nullopt;
}

Error read_token_id(const json& v, std::string_view param, int64_t vocab_size, int32_t& out) {
  int64_t id = 0;
  KEEL_PARSE_TRY(
      read_int(v, param, 0, vocab_size - 1, id, fmt::format("token id in [0, {})", vocab_size)));
  out = static_cast<int32_t>(id);
  return std::nullopt;
}

Error read_token_ids(const json& v, std::string_view param, int64_t vocab_size,
                     std::vector<int32_t>& out) {
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    int32_t id = 0;
    KEEL_PARSE_TRY(read_token_id(v[i], fmt::format("{}[{}]", param, i), vocab_size, id));
    out.push_back(id);
  }
  return std::nullopt;
}

Error parse_prompt(const json& v, const ProtocolLimits& limits, std::vector<Prompt>& out) {
  constexpr std::string_view kShapes =
      "a string, an array of strings, an array of token ids or an array of token-id arrays";
  if (v.is_string()) {
    out.push_back(Prompt{v.get<std::string>(), {}});
    return std::nullopt;
  }
  if (!v.is_array()) return wrong_type("prompt", kShapes, v);
  if (v.empty()) return bad("prompt", "prompt must not be an empty array");
  const json& first = v[0];
  if (first.is_number()) {
    Prompt p;
    KEEL_PARSE_TRY(read_token_ids(v, "prompt", limits.vocab_size, p.token_ids));
    out.push_back(std::move(p));
    return std::nullopt;
  }
  if (v.size() > limits.max_prompts) {
    return bad("prompt", fmt::format("prompt may hold at most {} prompts, got {}",
                                     limits.max_prompts, v.size()));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const json& e = v[i];
    std::string param = fmt::format("prompt[{}]", i);
    if (first.is_string() && e.is_string()) {
      out.push_back(Prompt{e.get<std::string>(), {}});
    } else if (first.is_array() && e.is_array()) {
      if (e.empty()) return bad(param, fmt::format("{} must not be an empty array", param));
      Prompt p;
      KEEL_PARSE_TRY(read_token_ids(e, param, limits.vocab_size, p.token_ids));
      out.push_back(std::move(p));
    } else {
      return bad(param, fmt::format("prompt must be {}; {} is {} {}", kShapes, param, type_name(e),
                                    show(e)));
    }
  }
  return std::nullopt;
}

Error parse_stop(const json& v, const ProtocolLimits& limits, std::vector<std::string>& out) {
  auto one = [&](const json& s, const std::string& param) -> Error {
    if (!s.is_string()) return wrong_type(param, "a string", s);
    std::string text = s.get<std::string>();
    if (text.empty()) return bad(param, fmt::format("{} must not be empty", param));
    if (text.size() > sampling::kMaxStopStringBytes) {
      return bad(param, fmt::format("{} may be at most {} bytes, got {}", param,
                                    sampling::kMaxStopStringBytes, text.size()));
    }
    out.push_back(std::move(text));
    return std::nullopt;
  };
  if (v.is_string()) return one(v, "stop");
  if (!v.is_array()) return wrong_type("stop", "a string, an array of strings or null", v);
  if (v.size() > limits.max_stop) {
    return bad("stop",
               fmt::format("stop may hold at most {} strings, got {}", limits.max_stop, v.size()));
  }
  for (size_t i = 0; i < v.size(); ++i) KEEL_PARSE_TRY(one(v[i], fmt::format("stop[{}]", i)));
  return std::nullopt;
}

Error parse_logit_bias(const json& v, const ProtocolLimits& limits, sampling::SamplingParams& sp) {
  if (!v.is_object()) return wrong_type("logit_bias", "an object of token id → bias", v);
  if (v.size() > limits.max_logit_bias) {
    return bad("logit_bias", fmt::format("logit_bias may hold at most {} entries, got {}",
                                         limits.max_logit_bias, v.size()));
  }
  for (const auto& [key, bias] : v.items()) {
    std::string param = fmt::format("logit_bias[\"{}\"]", key);
    int64_t id = -1;
    bool numeric = !key.empty() && key.size() <= 10 &&
                   key.find_first_not_of("0123456789") == std::string::npos;
    if (numeric) id = std::stoll(key);
    if (!numeric || id >= limits.vocab_size) {
      return bad("logit_bias",
                 fmt::format("logit_bias keys must be token ids in [0, {}) written as strings, "
                             "got \"{}\"",
                             limits.vocab_size, key));
    }
    double b = 0;
    KEEL_PARSE_TRY(read_number(
        bias, param, [](double x) { return x >= -100 && x <= 100; }, "in [-100, 100]", b));
    sp.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
  }
  return std::nullopt;
}

Error parse_stream_options(const json& v, GenerationOptions& o) {
  if (!v.is_object()) return wrong_type("stream_options", "an object or null", v);
  for (const auto& [key, val] : v.items()) {
    std::string param = "stream_options." + key;
    if (key == "include_usage") {
      if (!val.is_null()) KEEL_PARSE_TRY(read_bool(val, param, o.include_usage));
    } else if (key == "continuous_usage_stats") {
      bool on = false;
      if (!val.is_null()) KEEL_PARSE_TRY(read_bool(val, param, on));
      if (on) return bad(param, "stream_options.continuous_usage_stats is not supported yet");
    } else {
      return bad(param,
                 fmt::format("unknown field {}; stream_options supports include_usage", param));
    }
  }
  return std::nullopt;
}

bool is_option_key(std::string_view key) {
  static const std::set<std::string, std::less<>> kKeys = {"max_tokens",
                                                           "min_tokens",
                                                           "temperature",
                                                           "top_p",
                                                           "top_k",
                                                           "min_p",
                                                           "presence_penalty",
                                                           "frequency_penalty",
                                                           "repetition_penalty",
                                                           "logit_bias",
                                                           "seed",
                                                           "stop",
                                                           "stop_token_ids",
                                                           "n",
                                                           "ignore_eos",
                                                           "include_stop_str_in_output",
                                                           "strict_max_tokens",
                                                           "stream",
                                                           "stream_options",
                                                           "timeout",
                                                           "user",
                                                           "logprobs",
                                                           "top_logprobs",
                                                           "prompt_logprobs"};
  return kKeys.count(key) != 0;
}

}  // namespace

namespace protocol_internal {

Error parse_option(const std::string& key, const json& v, const ProtocolLimits& limits,
                   GenerationOptions& o, bool& known) {
  known = is_option_key(key);
  if (!known) return std::nullopt;
  if (v.is_null() && key != "max_tokens") return std::nullopt;
  sampling::SamplingParams& sp = o.sampling;
  double d = 0;
  int64_t i = 0;
  if (key == "max_tokens") {
    if (v.is_null()) {
      o.max_tokens.reset();
    } else {
      KEEL_PARSE_TRY(read_int(v, key, 1, std::numeric_limits<int32_t>::max(), i,
                              "in [1, 2147483647] or null (the rest of the context window)"));
      o.max_tokens = i;
    }
  } else if (key == "min_tokens") {
    KEEL_PARSE_TRY(read_int(v, key, 0, std::numeric_limits<int32_t>::max(), i, ">= 0"));
    o.min_tokens = i;
  } else if (key == "temperature") {
    KEEL_PARSE_TRY(read_number(
        v, key, [](double x) { return x >= 0 && x <= 2; }, "in [0, 2]", d));
    sp.temperature = static_cast<float>(d);
  } else if (key == "top_p") {
    KEEL_PARSE_TRY(read_number(
        v, key, [](double x) { return x > 0 && x <= 1; }, "in (0, 1]", d));
    sp.top_p = static_cast<float>(d);
  } else if (key == "top_k") {
    KEEL_PARSE_TRY(
        read_int(v, key, -1, std::numeric_limits<int32_t>::max(), i, ">= -1 (-1 or 0 = off)"));
    sp.top_k = static_cast<int32_t>(i);
  } else if (key == "min_p") {
    KEEL_PARSE_TRY(read_number(
        v, key, [](double x) { return x >= 0 && x <= 1; }, "in [0, 1]", d));
    sp.min_p = static_cast<float>(d);
  } else if (key == "presence_penalty" || key == "frequency_penalty") {
    KEEL_PARSE_TRY(read_number(
        v, key, [](double x) { return x >= -2 && x <= 2; }, "in [-2, 2]", d));
    (key == "presence_penalty" ? sp.presence_penalty : sp.frequency_penalty) =
        static_cast<float>(d);
  } else if (key == "repetition_penalty") {
    KEEL_PARSE_TRY(read_number(
        v, key, [](double x) { return x > 0 && x <= 10; }, "in (0, 10] (1 = off)", d));
    sp.repetition_penalty = static_cast<float>(d);
  } else if (key == "logit_bias") {
    KEEL_PARSE_TRY(parse_logit_bias(v, limits, sp));
  } else if (key == "seed") {
    if (v.is_number_unsigned()) {
      sp.seed = v.get<uint64_t>();
    } else {
      KEEL_PARSE_TRY(read_int(v, key, std::numeric_limits<int64_t>::min(),
                              std::numeric_limits<int64_t>::max(), i, "(64-bit)"));
      sp.seed = static_cast<uint64_t>(i);
    }
  } else if (key == "stop") {
    KEEL_PARSE_TRY(parse_stop(v, limits, o.stop));
  } else if (key == "stop_token_ids") {
    if (!v.is_array()) return wrong_type(key, "an array of token ids", v);
    if (v.size() > limits.max_stop_token_ids) {
      return bad(key, fmt::format("stop_token_ids may hold at most {} ids, got {}",
                                  limits.max_stop_token_ids, v.size()));
    }
    KEEL_PARSE_TRY(read_token_ids(v, key, limits.vocab_size, o.stop_token_ids));
  } else if (key == "n") {
    KEEL_PARSE_TRY(read_int(v, key, 1, limits.max_n, i, fmt::format("in [1, {}]", limits.max_n)));
    o.n = static_cast<int32_t>(i);
  } else if (key == "ignore_eos") {
    KEEL_PARSE_TRY(read_bool(v, key, o.ignore_eos));
  } else if (key == "include_stop_str_in_output") {
    KEEL_PARSE_TRY(read_bool(v, key, o.include_stop_str_in_output));
  } else if (key == "strict_max_tokens") {
    KEEL_PARSE_TRY(read_bool(v, key, o.strict_max_tokens));
  } else if (key == "stream") {
    KEEL_PARSE_TRY(read_bool(v, key, o.stream));
  } else if (key == "stream_options") {
    KEEL_PARSE_TRY(parse_stream_options(v, o));
  } else if (key == "timeout") {
    double max = limits.max_timeout_seconds;
    KEEL_PARSE_TRY(read_number(
        v, key, [max](double x) { return x > 0 && x <= max; },
        fmt::format("of seconds in (0, {}]", max), d));
    o.timeout_seconds = d;
  } else if (key == "user") {
    if (!v.is_string()) return wrong_type(key, "a string", v);
    o.user = v.get<std::string>();
  } else {  // logprobs, top_logprobs, prompt_logprobs
    return bad(key, fmt::format("{} is not supported yet; omit it or send null", key));
  }
  return std::nullopt;
}

Error check_cross_fields(const json& body, GenerationOptions& o) {
  if (o.max_tokens && o.min_tokens > *o.max_tokens) {
    return bad("min_tokens", fmt::format("min_tokens ({}) must be <= max_tokens ({})", o.min_tokens,
                                         *o.max_tokens));
  }
  auto so = body.find("stream_options");
  if (so != body.end() && !so->is_null() && !o.stream) {
    return bad("stream_options", "stream_options is only allowed with \"stream\": true");
  }
  auto best_of = body.find("best_of");
  if (best_of != body.end() && !best_of->is_null()) {
    int64_t b = 0;
    KEEL_PARSE_TRY(
        read_int(*best_of, "best_of", 1, std::numeric_limits<int32_t>::max(), b, ">= 1"));
    if (b != o.n) {
      return bad("best_of", fmt::format("best_of other than n is not supported yet "
                                        "(best_of {}, n {}); omit it",
                                        b, o.n));
    }
  }
  return std::nullopt;
}

}  // namespace protocol_internal

namespace {

Error parse_completion(const json& body, const ProtocolLimits& limits, CompletionRequest& r) {
  static const std::set<std::string, std::less<>> kAllowedExtra = {"best_of", "suffix"};
  bool has_model = false, has_prompt = false;
  for (const auto& [key, v] : body.items()) {
    bool known = false;
    KEEL_PARSE_TRY(parse_option(key, v, limits, r.options, known));
    if (known) continue;
    if (key == "model") {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return wrong_type("model", "a non-empty string", v);
      }
      r.model = v.get<std::string>();
      has_model = true;
    } else if (key == "prompt") {
      if (v.is_null()) return bad("prompt", "prompt is required");
      KEEL_PARSE_TRY(parse_prompt(v, limits, r.prompts));
      has_prompt = true;
    } else if (key == "echo") {
      if (!v.is_null()) KEEL_PARSE_TRY(read_bool(v, key, r.echo));
    } else if (key == "suffix") {
      if (!v.is_null() && (!v.is_string() || !v.get<std::string>().empty())) {
        return bad(key, "suffix is not supported yet; omit it or send null");
      }
    } else if (kAllowedExtra.count(key) == 0) {
      return bad(key, fmt::format("unknown field \"{}\" for /v1/completions", key));
    }
  }
  if (!has_model) return bad("model", "model is required");
  if (!has_prompt) return bad("prompt", "prompt is required");
  KEEL_PARSE_TRY(check_cross_fields(body, r.options));
  int64_t choices = static_cast<int64_t>(r.prompts.size()) * r.options.n;
  if (choices > limits.max_choices) {
    return bad("n", fmt::format("prompts × n must be at most {}, got {} × {}", limits.max_choices,
                                r.prompts.size(), r.options.n));
  }
  Status s = sampling::validate(r.options.sampling, limits.vocab_size);
  if (!s.ok()) return bad("sampling", std::string(s.message()));
  return std::nullopt;
}

}  // namespace

Parsed<CompletionRequest> parse_completion_request(std::string_view body,
                                                   const ProtocolLimits& limits) {
  Parsed<CompletionRequest> out;
  json j;
  if (Error e = parse_body(body, j)) {
    out.error = std::move(*e);
    return out;
  }
  CompletionRequest r;
  if (Error e = parse_completion(j, limits, r)) {
    out.error = std::move(*e);
    return out;
  }
  out.value = std::move(r);
  return out;
}

}  // namespace keel::server
