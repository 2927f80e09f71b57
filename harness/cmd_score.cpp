// packbench 'score' subcommand group: score responses from files against a benchmark.
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_score_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("score", "score responses from files against a benchmark");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'score' is not built yet in this version of packbench"); });
}

}  // namespace packbench::cli
