// The study's experiment matrix (models x datasets x methods) and its settings, from YAML.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace packbench::cli {

struct ModelSpec {
  std::string name;            // label in tables ("LLaMA-3-8B", "mini-s")
  std::string path;            // a Hugging Face checkpoint folder; "" when `init` or `gguf` is used
  std::string gguf;            // a GGUF file imported once into <cache>/models/imported/<file stem>/
                               // ("{cache}/..." = packbench's cache folder); "" otherwise
  nlohmann::json init;         // config.json fields of a randomly initialised model (the mini study)
  nlohmann::json train;        // per-model training overrides (batch sizes, epochs, ...)
  int nproc = 1;               // processes (GPUs) per cell on one node (local executor)
};

struct DatasetSpec {
  std::string name;            // name in dataset_info.json
  std::string label;           // label in tables ("WildChat (GPT-4)")
  std::string size_label;      // "69K"
  std::string dataset_dir;     // folder with dataset_info.json; "" when `synth` or `convert` is used
  nlohmann::json synth;        // packbench synth options (the mini study)
  nlohmann::json convert;      // {"from": "gsm8k", "file": F, "max_samples": N}: converted to sharegpt
                               // into <out>/_shared/data ("{benchmarks}/..." = the shared benchmarks)
};

struct StudyConfig {
  std::string source;          // file it came from, or "<embedded mini study>"
  std::string name;            // matrix name: cells go to <out>/<cell_id>
  std::string out;             // output folder
  std::string tokenizer;       // tokenizer folder; "synth" trains one on the synthetic data
  int tokenizer_vocab = 2048;  // vocabulary of a trained tokenizer
  std::vector<ModelSpec> models;
  std::vector<DatasetSpec> datasets;
  std::vector<std::string> methods;  // padding | random | greedy | bfd
  std::vector<int64_t> seeds;  // optional axis: each cell runs once per seed (train.seed); empty = no axis
  std::string attention = "cross";
  nlohmann::json train;        // shared training settings (LLaMA-Factory / HF Trainer names)
  nlohmann::json eval;         // {"tasks": [...], "limit": N, "batch_size": B, "max_new_tokens": N, "data_root": P}
  nlohmann::json executor;     // {"type": "local"|"slurm", "slurm": {...}}
  nlohmann::json raw;          // the whole parsed file
};

// The mini study sized for a 2-core CPU (used when no CONFIG is given).
const std::string& embedded_mini_config();

// Parses and validates; errors name the file and the key (e.g. "models[1].name").
StudyConfig parse_study_config(const nlohmann::json& j, const std::string& source);
StudyConfig load_study_config(const std::string& path);  // "" = the embedded mini study

// One cell of the matrix; with a seeds axis, one per (model, dataset, method, seed).
struct Cell {
  std::string id;              // "<model>__<dataset>__<method>"
  int model_index = 0, dataset_index = 0;
  const ModelSpec* model = nullptr;
  const DatasetSpec* dataset = nullptr;
  std::string method;
  std::optional<int64_t> seed;  // set when the study has a seeds axis
};
std::vector<Cell> expand_cells(const StudyConfig& c);
// File-name-safe form of a label: letters, digits, '-', '_', '.'.
std::string slug(const std::string& s);

}  // namespace packbench::cli
