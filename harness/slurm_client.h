// Talks to Slurm through its command-line tools: submit (sbatch), follow (squeue, sacct, scontrol), cancel (scancel).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace packbench::cli {

// What Slurm says about one job.
struct SlurmJobState {
  std::string state;      // PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...; "UNKNOWN" when no tool knows the job
  std::string exit_code;  // "0:0" style, when Slurm reported one
  std::string reason;     // squeue's reason for a pending job (e.g. "Dependency", "Resources")
  bool active() const;    // still queued or running
  bool succeeded() const; // COMPLETED with exit code 0:0 (or none reported)
  bool known() const { return state != "UNKNOWN"; }
};

class SlurmClient {
 public:
  // Throws packbench::Error naming the missing tool when sbatch, squeue or scancel is not on PATH.
  static void require_tools();

  // Submits a batch script; returns its job id. `after_ok` are job ids it must wait for
  // (--dependency=afterok:...). A refusal is an Error carrying sbatch's message.
  std::string submit(const std::string& script, const std::vector<std::string>& after_ok = {}) const;
  // The state of each job: squeue for jobs in the queue, then sacct, then scontrol for jobs
  // that have left it. Jobs no tool knows come back as "UNKNOWN".
  std::map<std::string, SlurmJobState> query(const std::vector<std::string>& ids) const;
  // scancel; jobs that already ended are ignored.
  void cancel(const std::vector<std::string>& ids) const;
};

// Runs a command with stdout and stderr merged, in its own process group (so a Ctrl-C meant
// for packbench does not kill it half-way); returns the exit code (127 when it cannot start).
int run_tool(const std::vector<std::string>& argv, std::string* output);

// A Slurm state name from squeue/sacct/scontrol ("CANCELLED by 0" -> "CANCELLED").
std::string normalise_slurm_state(const std::string& s);

}  // namespace packbench::cli
