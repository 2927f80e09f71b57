// The study report: one self-contained HTML page (tables beside the paper's, loss curves, throughput, data, config, environment).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "results/cell_record.h"
#include "results/paper_reference.h"

namespace packbench::results {

// Table 3's identity Total Training Time = Total Steps / Steps per Second, row by row.
struct TimeIdentity {
  std::string row;  // "dataset / model / method"
  double steps = 0, steps_per_second = 0, runtime = 0;
  double ratio = 0;  // runtime / (steps / steps_per_second); 1 when the three agree
};
// The paper's Table 3 rows (its times come out about one tenth of steps / rate).
std::vector<TimeIdentity> paper_time_identity(const std::vector<PaperRow>& rows);
// Cells with train_runtime, global_step and train_steps_per_second.
std::vector<TimeIdentity> measured_time_identity(const std::vector<CellRecord>& cells);

// A cell's training loss against tokens seen: the log entry's num_input_tokens_seen when
// recorded, else step x (train_tokens / global_step), the run's mean real tokens per step.
std::vector<std::pair<double, double>> loss_curve(const CellRecord& c);

struct ReportOptions {
  std::string runs_dir;      // a matrix folder: cells, study.yaml, env.json (optional)
  std::string paper_readme;  // the paper's README for its published tables; "" = not available
};

// The report page; the three tables come from the same builders as every other printer.
std::string build_report(const ReportOptions& o);
// Writes build_report to out_path (atomically).
void write_report(const ReportOptions& o, const std::string& out_path);

}  // namespace packbench::results
