// The paper's published tables, parsed from its README, as reference rows and as cell records.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "results/cell_record.h"

namespace packbench::results {

// One data row of a published table: its group titles, label, numbers, and the deltas the
// paper printed in parentheses (nullopt where none was printed).
struct PaperRow {
  int table = 0;                    // 1, 2 or 3
  std::vector<std::string> groups;  // Table 1/3: {"WildChat (GPT-4) Dataset, Size: 69K", "LLaMA-3-8B"}; Table 2: {"LLaMA-3-8B"}
  std::string label;                // "Padding", "Random Packing", "Greedy Packing"
  std::vector<double> values;
  std::vector<std::optional<double>> printed_deltas;
};

// Parses the HTML tables of the paper's README (shared/paper/packing-analysis-README.md).
// Table 2's column headers are returned in *table2_columns when given.
std::vector<PaperRow> parse_paper_tables(const std::string& readme_text,
                                         std::vector<std::string>* table2_columns = nullptr);

// The paper's numbers as cell records (eval metrics as fractions, Hugging Face training names),
// so packbench's own table builders can render the published tables and be checked against them.
// Each Table 1 score carries the standard error a single run has on the full benchmark
// (binomial_stderr with BenchmarkColumn::documents), so the tables mark which of the paper's
// deltas are within the noise.
std::vector<CellRecord> paper_cells(const std::vector<PaperRow>& rows, const std::vector<std::string>& table2_columns);

// Standard error of an accuracy p measured on `documents` independent items, as lm-eval reports
// it: sqrt(p (1 - p) / (documents - 1)).
double binomial_stderr(double p, int documents);

// "Greedy Packing" -> "greedy" (inverse of method_label).
std::string method_from_label(const std::string& label);

}  // namespace packbench::results
