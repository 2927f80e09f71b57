// Registration points for packbench's subcommands: each command file adds its own to the app.
#pragma once

namespace CLI { class App; }

namespace packbench::cli {

// Every add_* function registers one group of subcommands. A subcommand's callback throws
// packbench::Error (core/error.h) for bad input; main() prints it and exits non-zero.
void add_data_commands(CLI::App& app);   // cmd_data.cpp:  data stats (and calls the next)
void add_data_tokenize_command(CLI::App& data);  // cmd_data_tokenize.cpp: data tokenize
void add_score_command(CLI::App& app);   // cmd_score.cpp: score
void add_study_commands(CLI::App& app);  // cmd_study.cpp: synth | cell | matrix | tables
void add_env_command(CLI::App& app);     // cmd_env.cpp:   env
void add_wildbench_commands(CLI::App& app);  // cmd_wildbench.cpp: wildbench run | score
#ifdef PACKBENCH_HAVE_TORCH
void add_model_commands(CLI::App& app);  // cmd_model_torch.cpp: model info | model logits
void add_train_commands(CLI::App& app);  // cmd_train_torch.cpp: train | launch
void add_eval_command(CLI::App& app);    // cmd_eval_torch.cpp:  eval
void add_serve_command(CLI::App& app);   // serve_torch.cpp:     serve
void add_plan_command(CLI::App& app);    // cmd_plan_torch.cpp:  plan
#endif

}  // namespace packbench::cli
