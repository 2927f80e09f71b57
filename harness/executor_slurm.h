// Slurm executor: sbatch scripts per cell or per stage, and a run that submits, follows and collects them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "harness/study_runner.h"

namespace packbench::cli {

// Settings come from the study's executor.slurm mapping: nodes, gpus_per_node (0: no GPUs
// requested), ntasks_per_node (training ranks per node; default gpus_per_node, or 1 without
// GPUs), partition, account, time, cpus_per_task, mem, extra (list of "#SBATCH" lines), setup
// (shell lines run first, e.g. module loads), poll_seconds (how often a run asks squeue).
// Training runs under srun with RANK/WORLD_SIZE/LOCAL_RANK and MASTER_ADDR/MASTER_PORT set from
// Slurm's variables, as torchrun would.

// Writes <out>/slurm/<cell_id>.sbatch for every cell and <out>/slurm/submit_all.sh; returns the
// script paths (`packbench matrix slurm`: scripts to submit by hand).
std::vector<std::string> write_slurm_scripts(const StudyRunner& runner, const std::string& config_path);

// The text of one cell's script, all three stages in one job (exposed for tests).
std::string slurm_script(const StudyRunner& runner, const Cell& cell, const std::string& config_path);
// The text of one stage's script ("data", "train" or "eval"): data and eval run as one task,
// train as nodes x ntasks_per_node ranks. `force` reruns a stage whose output exists.
std::string slurm_stage_script(const StudyRunner& runner, const Cell& cell, const std::string& stage,
                               const std::string& config_path, bool force = false);

struct SlurmRunOptions {
  std::vector<std::string> stages = {"data", "train"};
  bool force = false;          // rerun stages whose outputs exist
  bool leave_running = false;  // on Ctrl-C, leave submitted jobs running (default: scancel them)
  double poll_seconds = 0;     // 0: executor.slurm.poll_seconds, else 10
  int retries = 1;             // resubmissions of a failed stage before the cell is given up
  // Called as each cell finishes all its stages (e.g. to refresh the tables).
  std::function<void(const Cell&)> on_cell_finished;
};

struct SlurmRunResult {
  std::vector<std::string> finished;      // cells whose stages all finished
  std::vector<std::string> failed;        // "<cell>: why" for cells given up
  std::vector<std::string> left_running;  // job ids left in the queue after an interrupt
  bool interrupted = false;
};

// Runs the study through Slurm: prepares the shared inputs here, submits every unfinished
// stage of every cell as a chain of dependent jobs (data -> train -> eval, afterok), follows
// them with squeue/sacct/scontrol with a progress line, resubmits a failed stage (and what
// depends on it) `retries` times, and stops on SIGINT/SIGTERM, cancelling its jobs unless
// leave_running. Job ids are kept in <out>/slurm/jobs.json: a later run follows jobs still queued
// from an earlier one instead of submitting them twice.
SlurmRunResult run_study_on_slurm(StudyRunner& runner, const std::string& config_path, const SlurmRunOptions& options);

}  // namespace packbench::cli
