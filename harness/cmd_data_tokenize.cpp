// packbench 'data tokenize': JSON lines with a "text" field in, the same lines with "ids" out.
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_data_tokenize_command(CLI::App& data) {
  auto* cmd = data.add_subcommand("tokenize", "add token ids to JSON lines with a text field");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'data tokenize' is not built yet in this version of packbench"); });
}

}  // namespace packbench::cli
