// Slurm executor: one sbatch script per cell (data, multi-node training over srun, eval).
#pragma once

#include <string>
#include <vector>

#include "harness/study_runner.h"

namespace packbench::cli {

// Writes <out>/slurm/<cell_id>.sbatch for every cell and <out>/slurm/submit_all.sh; returns the
// script paths. Settings come from the study's executor.slurm mapping: nodes, gpus_per_node,
// partition, account, time, cpus_per_task, mem, extra (list of "#SBATCH" lines), setup (shell
// lines run first, e.g. module loads). Training runs under srun with RANK/WORLD_SIZE/LOCAL_RANK
// and MASTER_ADDR/MASTER_PORT set from Slurm's variables, as torchrun would.
std::vector<std::string> write_slurm_scripts(const StudyRunner& runner, const std::string& config_path);

// The text of one cell's script (exposed for tests).
std::string slurm_script(const StudyRunner& runner, const Cell& cell, const std::string& config_path);

}  // namespace packbench::cli
