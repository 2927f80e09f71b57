// packbench 'train' subcommand group: supervised fine-tuning of a LLaMA model.
#include <CLI/CLI.hpp>

#include "datasets/error.h"
#include "harness/commands.h"

namespace packbench::cli {

void add_train_commands(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "supervised fine-tuning of a LLaMA model");
  cmd->allow_extras();
  cmd->callback([] { throw Error("'train' is not built yet in this version of packbench"); });
}

}  // namespace packbench::cli
