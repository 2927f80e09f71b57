// packbench 'train' and 'launch': supervised fine-tuning, one process or N local ranks.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "harness/commands.h"
#include "trainers/parallel/launch.h"
#include "trainers/train_run.h"

namespace packbench::cli {

namespace {

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw Error("launch: cannot find the packbench executable (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

void add_train_commands(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train",
      "supervised fine-tuning of a LLaMA model: packbench train --config FILE [key=value ...]; writes "
      "output_dir/{train_results.json,trainer_state.json,trainer_log.jsonl,checkpoint-N/,model}");
  auto config = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--config", *config, "training configuration (YAML, LLaMA-Factory / HF Trainer key names)");
  cmd->add_option("overrides", *overrides, "key=value settings that replace the file's");
  cmd->callback([config, overrides] { train::run_train_command(*config, *overrides); });

  auto* launch = app.add_subcommand(
      "launch", "run N local ranks with torchrun's environment: packbench launch --nproc N -- train ...");
  auto nproc = std::make_shared<int>(1);
  auto port = std::make_shared<int>(0);
  auto addr = std::make_shared<std::string>("127.0.0.1");
  launch->add_option("--nproc", *nproc, "processes on this machine")->check(CLI::Range(1, 1024));
  launch->add_option("--master-port", *port, "rendezvous port (default: a free one)");
  launch->add_option("--master-addr", *addr, "rendezvous address");
  // Everything after `--` is the command, in order (CLI11's remaining() lists it reversed).
  auto command = std::make_shared<std::vector<std::string>>();
  launch->add_option("command", *command, "the packbench command each rank runs, after --");
  launch->prefix_command();
  launch->callback([launch, nproc, port, addr, command] {
    for (const auto& extra : launch->remaining()) {
      if (extra != "--")
        throw Error("launch: put -- before the command's own options (packbench launch --nproc N -- train --config "
                    "FILE); '" + extra + "' was read as launch's");
    }
    const std::vector<std::string>& rest = *command;
    if (rest.empty()) throw Error("launch: nothing to run (use: packbench launch --nproc N -- train --config FILE)");
    std::vector<std::string> argv{self_exe()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    train::LaunchOptions o;
    o.nproc = *nproc;
    o.master_port = *port;
    o.master_addr = *addr;
    const int rc = train::launch_local(argv, o);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace packbench::cli
