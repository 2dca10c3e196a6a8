// keel: the command-line entry point.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "keel/cli/commands.h"
#include "keel/core/fault.h"
#include "keel/core/logging.h"

int main(int argc, char** argv) {
  keel::log::init_from_env();
  CLI::App app{"keel: an LLM inference engine that never hangs"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may follow the subcommand too
  app.set_version_flag("--version", std::string("keel 0.1.0"));
  std::string log_level;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (env KEEL_LOG_LEVEL)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"},
                            CLI::ignore_case));
  std::vector<std::string> faults;
  app.add_option("--inject-fault", faults,
                 "arm a fault point, e.g. step.stall:phase=forward:stall=2s (repeatable; also env "
                 "KEEL_FAULTS; `keel faults` lists the points and the syntax)");
  std::map<CLI::App*, keel::cli::Runner> runners;
  auto add = [&](keel::cli::Runner r) { runners.emplace(app.get_subcommands({}).back(), std::move(r)); };
  add(keel::cli::add_tokenize_command(app));
  add(keel::cli::add_detokenize_command(app));
  add(keel::cli::add_generate_command(app));
  add(keel::cli::add_bench_command(app));
  add(keel::cli::add_make_model_command(app));
  add(keel::cli::add_render_template_command(app));
  add(keel::cli::add_serve_command(app));
  add(keel::cli::add_chat_command(app));
  CLI::App* faults_cmd = app.add_subcommand("faults", "list the fault points and the --inject-fault syntax");
  runners.emplace(faults_cmd, [] {
    std::printf("%s\n", keel::fault::help_text().c_str());
    return 0;
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!log_level.empty()) {
    if (keel::Status s = keel::log::set_level(log_level); !s.ok()) {
      std::fprintf(stderr, "keel: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  if (keel::Status s = keel::fault::arm_faults_from_env(); !s.ok()) {
    std::fprintf(stderr, "keel: %s\n", s.to_string().c_str());
    return 2;
  }
  for (const std::string& f : faults) {
    if (keel::Status s = keel::fault::arm_faults_from_spec(f); !s.ok()) {
      std::fprintf(stderr, "keel: --inject-fault: %s\n", s.to_string().c_str());
      return 2;
    }
  }
  if (keel::fault::any_armed()) {
    KEEL_LOG_WARN("fault injection armed: {}", keel::fault::armed_summary());
  }
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return 2;
}
