// packbench 'model' subcommand group: inspect a checkpoint (info, logits).
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_model_commands(CLI::App& app) {
  auto* cmd = app.add_subcommand("model", "inspect a checkpoint (info, logits)");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'model' is not built yet in this version of packbench"); });
}

}  // namespace packbench::cli
