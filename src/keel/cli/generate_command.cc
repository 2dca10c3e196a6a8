// keel generate: one prompt through a model folder, text streamed to stdout
// as it is decoded, timings to stderr; --json prints one object instead.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "keel/cli/commands.h"
#include "keel/cli/model_options.h"
#include "keel/engine/generator.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::cli {
namespace {

struct GenerateOptions {
  ModelCliOptions model;
  std::string prompt;
  int64_t max_new_tokens = 256;
  int64_t min_new_tokens = 0;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int32_t> top_k;
  float min_p = 0;
  std::optional<float> repetition_penalty;
  float presence_penalty = 0;
  float frequency_penalty = 0;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  bool no_special_tokens = false;
  bool json = false;
};

// Defaults: the model's generation_config.json when it samples (do_sample),
// greedy otherwise; flags override.
sampling::SamplingParams sampling_params(const GenerateOptions& o, const model::GenerationConfig& g) {
  sampling::SamplingParams p;
  const bool sample = g.do_sample.value_or(false);
  p.temperature = o.temperature.value_or(sample ? g.temperature.value_or(1.0f) : 0.0f);
  p.top_p = o.top_p.value_or(sample ? g.top_p.value_or(1.0f) : 1.0f);
  p.top_k = o.top_k.value_or(sample ? g.top_k.value_or(0) : 0);
  p.min_p = o.min_p;
  p.repetition_penalty = o.repetition_penalty.value_or(g.repetition_penalty.value_or(1.0f));
  p.presence_penalty = o.presence_penalty;
  p.frequency_penalty = o.frequency_penalty;
  p.seed = o.seed;
  return p;
}

int run_generate(const GenerateOptions& o) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "keel generate: %s\n", s.to_string().c_str());
    return 1;
  };
  auto tok = tokenizer::Tokenizer::from_path(o.model.model_dir);
  if (!tok.ok()) return fail(tok.status().with_context("loading the tokenizer"));
  auto ids = tok->encode(o.prompt, !o.no_special_tokens);
  if (!ids.ok()) return fail(ids.status().with_context("tokenizing the prompt"));
  const auto prompt_len = static_cast<int64_t>(ids->size());
  // The KV pool holds this one sequence; the context is capped to what it needs.
  const int64_t need = prompt_len + o.max_new_tokens;
  auto loaded = load_model(o.model, need, need, 1);
  if (!loaded.ok()) return fail(loaded.status());
  model::Runtime& rt = loaded->runtime;

  engine::GenerateRequest req;
  req.prompt_ids.assign(ids->begin(), ids->end());
  req.sampling = sampling_params(o, rt.generation);
  req.stop.eos_ids = engine::eos_ids(rt, *tok);
  req.stop.stop_strings = o.stop;
  req.stop.max_new_tokens = o.max_new_tokens;
  req.stop.min_new_tokens = o.min_new_tokens;
  req.stop.ignore_eos = o.ignore_eos;
  engine::TextCallback stream;
  if (!o.json) {
    stream = [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    };
  }
  auto r = engine::generate(rt, *tok, std::move(req), stream);
  if (!r.ok()) return fail(r.status());
  const engine::GenerateTimings& t = r->timings;
  const std::string reason(sampling::finish_reason_name(r->finish.reason));
  const std::string cause(sampling::stop_cause_name(r->finish.cause));
  if (o.json) {
    nlohmann::json j;
    j["text"] = r->text;
    j["token_ids"] = r->token_ids;
    j["prompt_token_ids"] = *ids;
    j["finish_reason"] = reason;
    j["finish_cause"] = cause;
    j["seed"] = r->seed;
    j["adjustments"] = r->adjustments;
    j["timings"] = {{"load_seconds", loaded->load_seconds},
                    {"prefill_seconds", t.prefill_seconds},
                    {"prefill_tokens_per_second", t.prefill_tokens_per_second()},
                    {"decode_seconds", t.decode_seconds},
                    {"decode_tokens_per_second", t.decode_tokens_per_second()},
                    {"prompt_tokens", t.prompt_tokens},
                    {"generated_tokens", t.generated_tokens}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("\n");
    std::fprintf(stderr,
                 "keel generate: finish_reason=%s (%s); load %.2f s; prefill %lld tokens %.1f tok/s; "
                 "decode %lld tokens %.1f tok/s\n",
                 reason.c_str(), cause.c_str(), loaded->load_seconds,
                 static_cast<long long>(t.prompt_tokens), t.prefill_tokens_per_second(),
                 static_cast<long long>(t.generated_tokens), t.decode_tokens_per_second());
  }
  return 0;
}

}  // namespace

Runner add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt");
  add_model_options(cmd, o->model);
  cmd->add_option("--prompt,-p", o->prompt, "the prompt text")->required();
  cmd->add_option("--max-new-tokens,-n", o->max_new_tokens, "most tokens to generate")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--min-new-tokens", o->min_new_tokens,
                  "fewest tokens to generate (EOS and stop strings suppressed until then)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--temperature", o->temperature, "0 = greedy (default: generation_config.json, else greedy)")
      ->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-p", o->top_p, "nucleus sampling mass in (0, 1]");
  cmd->add_option("--top-k", o->top_k, "keep the k most likely tokens (0 = off)");
  cmd->add_option("--min-p", o->min_p, "drop tokens below min_p x the top probability");
  cmd->add_option("--repetition-penalty", o->repetition_penalty, "HF repetition penalty (> 0, 1 = off)");
  cmd->add_option("--presence-penalty", o->presence_penalty, "OpenAI presence penalty in [-2, 2]");
  cmd->add_option("--frequency-penalty", o->frequency_penalty, "OpenAI frequency penalty in [-2, 2]");
  cmd->add_option("--seed", o->seed, "sampling seed (same seed, same tokens)");
  cmd->add_option("--stop", o->stop, "stop string (repeatable); not included in the output");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past EOS");
  cmd->add_flag("--no-special-tokens", o->no_special_tokens, "do not add BOS/EOS to the prompt");
  cmd->add_flag("--json", o->json, "print one JSON object instead of streaming");
  return [o] {
    if (o->min_new_tokens > o->max_new_tokens) {
      std::fprintf(stderr, "keel generate: --min-new-tokens %lld exceeds --max-new-tokens %lld\n",
                   static_cast<long long>(o->min_new_tokens), static_cast<long long>(o->max_new_tokens));
      return 2;
    }
    return run_generate(*o);
  };
}

}  // namespace keel::cli
