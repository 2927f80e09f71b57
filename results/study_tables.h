// The paper's three tables built from cell records (seeds averaged): Table 1 benchmarks, Table 2 WildBench, Table 3 timing.
#pragma once

#include <string>
#include <vector>

#include "results/cell_record.h"
#include "results/table.h"

namespace packbench::results {

// A Table 1 column: which task and which "metric,filter" keys (first present wins) feed it.
struct BenchmarkColumn {
  std::string key;     // "mmlu"
  std::string header;  // "MMLU (5-shot)"
  std::string task;    // task name in eval results
  std::vector<std::string> metric_keys;
  std::vector<std::string> task_aliases = {};  // other names the task's results may be under
  int documents = 0;   // size of the full benchmark (the paper's evaluation), for its standard errors
};
// The six benchmarks of the paper's Table 1 and the metric each reports.
const std::vector<BenchmarkColumn>& table1_columns();

// Cells that differ only in seed (a seeds axis) make one row: each value is the mean over seeds
// with its standard deviation (TableRow::stds, counts).

// Table 1: benchmark scores x100, grouped by dataset then model, deltas against padding, and
// the paper's "Avg" (mean of the six, only when all six are present). Each score carries its
// standard error over documents ("<metric>_stderr,<filter>" in the eval results; for Avg the
// six combined as independent), and each delta whether it exceeds two standard errors.
Table build_table1(const std::vector<CellRecord>& cells);
// Table 2: WildBench score per dataset (columns), grouped by model.
Table build_table2(const std::vector<CellRecord>& cells);
// Table 3: epochs, total steps, train_runtime, steps/s, samples/s (Hugging Face Trainer names),
// plus packbench's tokens/s and padding fraction, grouped by dataset then model.
Table build_table3(const std::vector<CellRecord>& cells);
// 1, 2 or 3; anything else is a packbench::Error.
Table build_table(int number, const std::vector<CellRecord>& cells);

// The eval results key of a metric's standard error: "acc,none" -> "acc_stderr,none".
std::string stderr_key(const std::string& metric_key);

// "WildChat (GPT-4) Dataset, Size: 69K" style group title for a cell.
std::string dataset_title(const CellRecord& c);

}  // namespace packbench::results
