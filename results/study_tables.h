// The paper's three tables built from cell records: Table 1 benchmarks, Table 2 WildBench, Table 3 timing.
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
};
// The six benchmarks of the paper's Table 1 and the metric each reports.
const std::vector<BenchmarkColumn>& table1_columns();

// Table 1: benchmark scores x100, grouped by dataset then model, deltas against padding, and
// the paper's "Avg" (mean of the six, only when all six are present).
Table build_table1(const std::vector<CellRecord>& cells);
// Table 2: WildBench score per dataset (columns), grouped by model.
Table build_table2(const std::vector<CellRecord>& cells);
// Table 3: epochs, total steps, train_runtime, steps/s, samples/s (Hugging Face Trainer names),
// plus packbench's tokens/s and padding fraction, grouped by dataset then model.
Table build_table3(const std::vector<CellRecord>& cells);
// 1, 2 or 3; anything else is a packbench::Error.
Table build_table(int number, const std::vector<CellRecord>& cells);

// "WildChat (GPT-4) Dataset, Size: 69K" style group title for a cell.
std::string dataset_title(const CellRecord& c);

}  // namespace packbench::results
