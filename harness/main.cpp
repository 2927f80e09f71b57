// packbench entry point: parses the command line and dispatches to a subcommand.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>

#include "core/error.h"
#include "harness/build_info.h"
#include "harness/commands.h"
#ifdef PACKBENCH_HAVE_TORCH
#include "trainers/parallel/blas_kernels.h"
#endif

int main(int argc, char** argv) {
#ifdef PACKBENCH_HAVE_TORCH
  packbench::train::ensure_fast_blas_kernels(argv);
#endif
  CLI::App app{"packbench: padding vs packing for supervised fine-tuning, trained, evaluated and tabled"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "packbench " + packbench::version() + " (" + packbench::git_commit() + ")");
  packbench::cli::add_data_commands(app);
  packbench::cli::add_score_command(app);
  packbench::cli::add_study_commands(app);
  packbench::cli::add_env_command(app);
  packbench::cli::add_wildbench_commands(app);
#ifdef PACKBENCH_HAVE_TORCH
  packbench::cli::add_model_commands(app);
  packbench::cli::add_train_commands(app);
  packbench::cli::add_eval_command(app);
  packbench::cli::add_serve_command(app);
  packbench::cli::add_plan_command(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const packbench::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "packbench: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "packbench: internal error: {}\n", e.what());
    return 3;
  }
  return 0;
}
