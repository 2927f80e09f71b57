// packbench 'eval' subcommand group: evaluate a checkpoint on the benchmarks in-process.
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "evaluate a checkpoint on the benchmarks in-process");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'eval' is not built yet in this version of packbench"); });
}

}  // namespace packbench::cli
