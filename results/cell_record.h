// One cell's stored results (config, data stats, training metrics, eval scores), read from its folder.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace packbench::results {

// A cell's folder (written by the harness, each file atomically):
//   cell.json               {"cell_id", "model", "dataset", "dataset_size", "method", "attention", ...}
//   data_stats.json         `packbench data stats --json`
//   train/train_results.json, train/trainer_state.json   (Hugging Face Trainer names)
//   eval/results.json or eval/<task>/results.json         (lm-eval's results.json shape)
//   status.json             stages finished, with timestamps
struct CellRecord {
  std::string dir;
  std::string cell_id;
  std::string model;         // label, e.g. "LLaMA-3-8B" or "mini-s"
  std::string dataset;       // label, e.g. "WildChat (GPT-4)"
  std::string dataset_size;  // label, e.g. "69K"
  std::string method;        // padding | random | greedy | bfd
  nlohmann::json cell = nlohmann::json::object();
  nlohmann::json data_stats = nlohmann::json::object();
  nlohmann::json train = nlohmann::json::object();  // train_results.json merged over trainer_state.json
  nlohmann::json evals = nlohmann::json::object();  // task -> {"metric,filter": value, ...}
  nlohmann::json log_history = nlohmann::json::array();  // trainer_state.json's log entries (loss per logged step)

  // A training metric by Hugging Face name ("train_runtime", "global_step", "epoch", ...).
  std::optional<double> train_metric(const std::string& name) const;
  // An eval metric: the first of `keys` present for `task` ("acc,none", ...). Values in [0,1].
  std::optional<double> eval_metric(const std::string& task, const std::vector<std::string>& keys) const;
};

// Reads one cell folder; files that are absent leave their part empty. A file that exists but
// is not valid JSON, or a field of the wrong type, is a packbench::Error naming file and field.
CellRecord load_cell(const std::string& cell_dir);

// Every cell under `runs_dir` (folders holding cell.json, at any depth up to 2), in path order.
std::vector<CellRecord> load_cells(const std::string& runs_dir);

// Human label of a row method: "Padding", "Random Packing", "Greedy Packing", "BFD Packing".
std::string method_label(const std::string& method);
// Sort rank of a method in tables: padding, random, greedy, bfd, others.
int method_rank(const std::string& method);

}  // namespace packbench::results
