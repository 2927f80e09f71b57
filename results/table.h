// One table schema (columns, grouped rows, deltas against padding, spread over seeds and noise) that every printer reads.
#pragma once

#include <functional>
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
  // Repeated runs (a seeds axis): values are means over `counts` runs and `stds` their sample
  // standard deviation (n >= 2). Empty vectors mean one run per value.
  std::vector<int> counts;
  std::vector<std::optional<double>> stds;
  // Standard error of each value over the benchmark's documents (Table 1), where known.
  std::vector<std::optional<double>> stderrs;
  // Standard error of each delta (from the two rows' noise) and whether |delta| exceeds two of
  // them; nullopt where no noise estimate exists for either row. Filled by compute_deltas.
  std::vector<std::optional<double>> delta_ses;
  std::vector<std::optional<bool>> beyond_noise;

  int count(size_t c) const { return c < counts.size() ? counts[c] : 1; }
  std::optional<double> std_of(size_t c) const { return c < stds.size() ? stds[c] : std::nullopt; }
  std::optional<double> stderr_of(size_t c) const { return c < stderrs.size() ? stderrs[c] : std::nullopt; }
  // The noise of the value: sqrt((std / sqrt(n))^2 + stderr^2) from what is known, else nullopt.
  std::optional<double> noise_se(size_t c) const;
};

// One run's values and document standard errors for a row, before runs are merged.
struct RunValues {
  std::vector<std::optional<double>> values;
  std::vector<std::optional<double>> stderrs;
};
// Merges repeated runs of one row: per column the mean of the runs that have a value, their
// sample standard deviation (n >= 2), the count, and the mean of their standard errors.
void merge_runs(TableRow& row, const std::vector<RunValues>& runs);

struct Table {
  std::string id;                        // "table1"
  std::string title;                     // caption
  std::vector<std::string> group_names;  // e.g. {"dataset", "model"}
  std::string label_name = "method";
  std::vector<Column> columns;
  std::vector<TableRow> rows;            // grouped: rows of one group are contiguous
  std::vector<std::string> notes;        // footnotes (what is missing and why)

  // Fills deltas: within each group, against the row marked baseline (if any), with their
  // standard errors and whether they exceed two of them.
  void compute_deltas();
  bool has_stds() const;      // some value is a mean over >= 2 runs
  bool has_stderrs() const;   // some value has a document standard error
  bool has_noise() const;     // some delta has a standard error
  int max_runs() const;       // the largest number of runs behind one value
};

// Printers. All read the same Table; CSV is flat (group columns, label, values, <key>_delta).
std::string to_csv(const Table& t);
std::string to_markdown(const Table& t);
std::string to_html(const Table& t);   // a full standalone page; improvements blue, regressions red, noise grey
// The <table> element and its notes alone, for embedding (the study report); `after_row` may
// return extra <tr> rows to print after each row (e.g. the paper's numbers for it).
std::string to_html_table(const Table& t, const std::function<std::string(const TableRow&)>& after_row = nullptr);
// The CSS the HTML tables use.
const char* table_css();
// Escapes &, <, >, " for HTML text and attributes.
std::string html_escape(const std::string& s);
std::string to_latex(const Table& t);
// The printer for a format name: "csv", "md", "html" or "tex"; anything else is a packbench::Error.
std::string render(const Table& t, const std::string& format);

// Formats a number with `precision` decimals; "-" for nullopt.
std::string format_value(const std::optional<double>& v, int precision);
// "(+1.23)" / "(-0.45)"; "" for nullopt.
std::string format_delta(const std::optional<double>& d, int precision);
// A cell as the text printers show it: "45.00 ± 1.20 [3.80] (+2.00)*" (± std over runs, [document
// standard error], delta, * when the delta exceeds two standard errors of the difference).
std::string cell_text(const Table& t, const TableRow& r, size_t c);
// The footnote explaining ±, [ ] and * for this table ("" when it has none of them).
std::string noise_note(const Table& t);

}  // namespace packbench::results
