// Runs the study: prepares shared inputs, runs each cell's stages (skipping finished ones), writes tables.
#pragma once

#include <string>
#include <vector>

#include "harness/study_config.h"

namespace packbench::cli {

// A matrix folder:
//   <out>/study.yaml                 the resolved study configuration
//   <out>/_shared/data/              synthetic datasets + dataset_info.json (mini study)
//   <out>/_shared/tokenizer/         the tokenizer every model uses ("synth": trained here)
//   <out>/_shared/models/<model>/    randomly initialised base checkpoints (mini study)
//   <out>/<cell_id>/                 cell.json, data_stats.json, train/, eval/, status.json, logs/
//   <out>/tables/                    table<N>.{csv,md,html,tex}
class StudyRunner {
 public:
  StudyRunner(StudyConfig config, std::string out_dir);

  const StudyConfig& config() const { return config_; }
  const std::string& out_dir() const { return out_; }
  std::vector<Cell> cells() const { return expand_cells(config_); }

  // Synthetic data, tokenizer and base models; each skipped when already present.
  void prepare();
  // Stages: "data", "train", "eval". A stage whose output exists is skipped unless force.
  void run_cell(const Cell& cell, const std::vector<std::string>& stages, bool force = false);
  void run_all(const std::vector<std::string>& stages, bool force = false);
  // Builds tables from whatever cells have results; writes <out>/tables/table<N>.*; returns Markdown.
  std::string write_tables(const std::vector<int>& tables) const;

  std::string cell_dir(const Cell& c) const;
  std::string tokenizer_dir() const;
  std::string model_dir(const ModelSpec& m) const;
  std::string dataset_dir(const DatasetSpec& d) const;
  // The training configuration (LLaMA-Factory names) for one cell.
  nlohmann::json train_config(const Cell& c) const;
  // Whether a stage's output exists (data_stats.json, train/train_results.json, eval/results.json).
  bool stage_done(const Cell& c, const std::string& stage) const;
  // Stages a table needs: 3 and 2 -> data, train; 1 -> data, train, eval.
  static std::vector<std::string> stages_for_table(int table);

 private:
  void write_status(const Cell& c, const std::string& stage, double seconds) const;
  StudyConfig config_;
  std::string out_;
};

// A path from a study file: "{cache}/..." is under packbench's cache folder ($PACKBENCH_CACHE, else
// ~/.cache/packbench), "{benchmarks}/..." under the shared benchmark folder ($PACKBENCH_SHARED, else
// ../shared/benchmarks next to the checkout; an error naming `where` when there is none); any other
// path is returned as given.
std::string expand_study_path(const std::string& path, const std::string& where);

// Writes tables built from every cell under runs_dir into out_dir in the given formats
// (csv, md, html, tex); returns the Markdown of the last table.
std::string write_tables_from_runs(const std::string& runs_dir, const std::vector<int>& tables,
                                   const std::vector<std::string>& formats, const std::string& out_dir);

}  // namespace packbench::cli
