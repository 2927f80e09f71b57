// packbench 'data' subcommand group: raw SFT data to tokens and rows (stats, tokenize).
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_data_commands(CLI::App& app) {
  auto* data = app.add_subcommand("data", "raw SFT data to tokens and rows (stats, tokenize)");
  data->require_subcommand(1);
  auto* stats = data->add_subcommand("stats", "rows, tokens, padding and steps for one method");
  stats->allow_extras();
  stats->callback([] { throw Error("'data stats' is not built yet in this version of packbench"); });
  add_data_tokenize_command(*data);
}

}  // namespace packbench::cli
