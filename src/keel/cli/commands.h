// keel's subcommands. Each registers its options on the CLI11 app and
// returns a runner that yields the process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace keel::cli {

using Runner = std::function<int()>;

Runner add_tokenize_command(CLI::App& app);
Runner add_detokenize_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);
Runner add_generate_command(CLI::App& app);
Runner add_make_model_command(CLI::App& app);
Runner add_render_template_command(CLI::App& app);
Runner add_serve_command(CLI::App& app);
Runner add_chat_command(CLI::App& app);

}  // namespace keel::cli
