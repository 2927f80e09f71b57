// packbench 'cell' subcommand group: run one (model size, dataset, method) cell of the study.
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_study_commands(CLI::App& app) {
  auto* cmd = app.add_subcommand("cell", "run one (model size, dataset, method) cell of the study");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'cell' is not built yet in this version of packbench"); });
}

}  // namespace packbench::cli
