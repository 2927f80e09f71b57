// The data pipeline's entry point: a LLaMA-Factory dataset to train/eval rows, with statistics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/types.h"

namespace packbench::data {

struct DataOptions {
  std::string dataset;            // name in dataset_info.json (comma-separated list allowed)
  std::string dataset_dir;        // folder with dataset_info.json
  std::string tokenizer_dir;      // folder with tokenizer.json ("" = default_tokenizer_dir())
  std::string template_name = "llama3_lf07";
  std::string method = "padding";  // padding | random | greedy | bfd
  AttentionLayout attention = AttentionLayout::kCross;
  int cutoff_len = 4096;
  double val_size = 0.1;          // HF/LLaMA-Factory holdout (fraction, or absolute count if >= 1)
  int seed = 42;
  int preprocessing_batch = 1000;
  int preprocessing_shards = 1;
  std::string on_bad_record = "fail";  // fail | skip
  bool train_on_prompt = false, mask_history = false;
  int64_t max_samples = -1;       // -1: all; else the first N records of each dataset
  std::string cache_dir;          // "" = packbench::cache_dir() + "/data"
  bool use_cache = true;          // read/write the tokenized cache
  bool bfd_split_long = false;    // bfd: split samples longer than cutoff_len (else truncate)
  bool show_progress = true;      // progress bar on stderr
};

struct DataStats {
  int64_t samples = 0;            // tokenized samples (after skipped records)
  int64_t rows = 0;               // train + eval rows
  int64_t train_rows = 0, eval_rows = 0;
  int64_t tokens = 0;             // non-pad tokens in all rows
  int64_t trainable_tokens = 0;   // labels != -100 in all rows
  int64_t pad_tokens = 0;         // pad tokens the collator adds (padding: per batch; packed: to cutoff)
  int64_t truncated_samples = 0;  // samples cut by cutoff_len
  int64_t dropped_samples = 0;    // samples not in any row (greedy's long samples, random's remainder)
  int64_t skipped_records = 0;    // bad records skipped with on_bad_record=skip
  double padding_fraction = 0.0;  // pad_tokens / (tokens + pad_tokens)
  int64_t steps_per_epoch = 0;    // filled by callers that know the batch geometry
  int64_t total_steps = 0;
  nlohmann::json to_json() const;
};

struct PreparedData {
  std::vector<Row> train_rows, eval_rows;
  DataStats stats;
};

// Reads, tokenizes (through the cache), templates, builds rows and splits train/eval.
// Throws packbench::Error on bad input or options.
PreparedData prepare_data(const DataOptions& options);

// Optimizer steps per epoch as the Hugging Face Trainer counts them:
// len(dataloader) = ceil(rows / (per_device_batch * world_size)), then
// max(len(dataloader) // grad_accum, 1).
int64_t steps_per_epoch(int64_t rows, int per_device_batch, int world_size, int grad_accum);

}  // namespace packbench::data
