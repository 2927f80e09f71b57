// packbench 'data' subcommand group: raw SFT data to tokens and rows (stats, tokenize).
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_data_commands(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "raw SFT data to tokens and rows (stats, tokenize)");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'data' is not built yet in this version of packbench"); });
}

}  // namespace packbench::cli
