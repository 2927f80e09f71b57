// One table schema (columns, grouped rows, deltas against padding) that every printer reads.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace packbench::results {

struct Column {
  std::string key;        // machine name, used as the CSV header ("mmlu", "train_runtime", ...)
  std::string header;     // human header ("MMLU (5-shot)")
  int precision = 2;      // decimals when printed
  bool higher_is_better = true;
  bool show_delta = true; // print "(+1.23)" against the group's baseline row
};

struct TableRow {
  std::vector<std::string> groups;            // one value per Table::group_names, e.g. {"WildChat (GPT-4), 69K", "LLaMA-3-8B"}
  std::string label;                          // "Padding", "Random Packing", ...
  std::vector<std::optional<double>> values;  // one per column; nullopt = not available
  std::vector<std::optional<double>> deltas;  // value - baseline value, where both exist
  bool baseline = false;                      // the row deltas are taken against
};

struct Table {
  std::string id;                        // "table1"
  std::string title;                     // caption
  std::vector<std::string> group_names;  // e.g. {"dataset", "model"}
  std::string label_name = "method";
  std::vector<Column> columns;
  std::vector<TableRow> rows;            // grouped: rows of one group are contiguous
  std::vector<std::string> notes;        // footnotes (what is missing and why)

  // Fills deltas: within each group, against the row marked baseline (if any).
  void compute_deltas();
};

// Printers. All read the same Table; CSV is flat (group columns, label, values, <key>_delta).
std::string to_csv(const Table& t);
std::string to_markdown(const Table& t);
std::string to_html(const Table& t);   // a full standalone page; improvements blue, regressions red
std::string to_latex(const Table& t);
// The printer for a format name: "csv", "md", "html" or "tex"; anything else is a packbench::Error.
std::string render(const Table& t, const std::string& format);

// Formats a number with `precision` decimals; "-" for nullopt.
std::string format_value(const std::optional<double>& v, int precision);
// "(+1.23)" / "(-0.45)"; "" for nullopt.
std::string format_delta(const std::optional<double>& d, int precision);

}  // namespace packbench::results
