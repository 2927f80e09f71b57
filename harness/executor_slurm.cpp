// Slurm executor: one sbatch script per cell (data, multi-node training over srun, eval).
#include "harness/executor_slurm.h"

#include <fmt/format.h>

#include <filesystem>

#include "datasets/atomic_file.h"
#include "datasets/error.h"
#include "harness/subprocess.h"

namespace packbench::cli {
namespace fs = std::filesystem;
using nlohmann::json;

std::string slurm_script(const StudyRunner& runner, const Cell& cell, const std::string& config_path) {
  const json slurm = runner.config().executor.value("slurm", json::object());
  const int nodes = slurm.value("nodes", 1);
  const int gpus = slurm.value("gpus_per_node", 8);
  const std::string out = fs::absolute(runner.out_dir()).string();
  const std::string cfg = config_path.empty() ? "" : fs::absolute(config_path).string();
  const std::string pb = self_exe();
  std::string cell_args = "cell " + (cfg.empty() ? std::string() : "--config " + shell_join({cfg}) + " ") +
                          "--out " + shell_join({out}) + " --cell " + cell.id;
  std::string s = "#!/bin/bash\n";
  s += "# packbench cell " + cell.id + " (study " + runner.config().name + ")\n";
  s += fmt::format("#SBATCH --job-name=pb-{}\n", cell.id);
  s += fmt::format("#SBATCH --nodes={}\n#SBATCH --ntasks-per-node={}\n#SBATCH --gpus-per-node={}\n", nodes, gpus, gpus);
  if (slurm.contains("cpus_per_task")) s += fmt::format("#SBATCH --cpus-per-task={}\n", slurm["cpus_per_task"].get<int>());
  if (slurm.contains("partition")) s += "#SBATCH --partition=" + slurm["partition"].get<std::string>() + "\n";
  if (slurm.contains("account")) s += "#SBATCH --account=" + slurm["account"].get<std::string>() + "\n";
  if (slurm.contains("time")) s += "#SBATCH --time=" + slurm["time"].get<std::string>() + "\n";
  if (slurm.contains("mem")) s += "#SBATCH --mem=" + slurm["mem"].get<std::string>() + "\n";
  for (const auto& line : slurm.value("extra", json::array())) s += "#SBATCH " + line.get<std::string>() + "\n";
  s += fmt::format("#SBATCH --output={}/{}/logs/slurm-%j.out\n", out, cell.id);
  s += "set -euo pipefail\n";
  for (const auto& line : slurm.value("setup", json::array())) s += line.get<std::string>() + "\n";
  s += "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n";
  s += "export MASTER_PORT=${MASTER_PORT:-29500}\n";
  s += "PB=" + shell_join({pb}) + "\n";
  s += "mkdir -p " + shell_join({out + "/" + cell.id + "/logs"}) + "\n";
  s += "\"$PB\" " + cell_args + " --stages data\n";
  s += "srun --kill-on-bad-exit=1 bash -c 'export RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS "
       "LOCAL_RANK=$SLURM_LOCALID; exec \"$0\" \"$@\"' \"$PB\" " +
       cell_args + " --stages train\n";
  s += "\"$PB\" " + cell_args + " --stages eval\n";
  return s;
}

std::vector<std::string> write_slurm_scripts(const StudyRunner& runner, const std::string& config_path) {
  fs::path dir = fs::path(runner.out_dir()) / "slurm";
  std::vector<std::string> paths;
  std::string submit = "#!/bin/bash\n# Submits every cell of study " + runner.config().name + "\nset -euo pipefail\n";
  for (const auto& c : runner.cells()) {
    fs::path p = dir / (c.id + ".sbatch");
    write_file_atomic(p.string(), slurm_script(runner, c, config_path));
    fs::permissions(p, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    submit += "sbatch " + shell_join({fs::absolute(p).string()}) + "\n";
    paths.push_back(p.string());
  }
  fs::path sp = dir / "submit_all.sh";
  write_file_atomic(sp.string(), submit);
  fs::permissions(sp, fs::perms::owner_exec, fs::perm_options::add);
  return paths;
}

}  // namespace packbench::cli
