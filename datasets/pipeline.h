// The data pipeline's entry point: a LLaMA-Factory dataset to train/eval rows, with statistics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/tokenizer.h"
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
  int threads = 0;                // tokenizer threads (0: all OpenMP threads)
  int per_device_batch = 2;       // micro-batch size used to count the collator's pad tokens
  std::shared_ptr<const Tokenizer> tokenizer;  // preloaded tokenizer (else loaded from tokenizer_dir)
};

// Counts over the whole prepared set unless marked "train": rows is train + eval, while tokens,
// trainable_tokens, pad_tokens and padding_fraction describe the train rows as the trainer
// sees them (pad tokens: the collator's right padding to the longest row of each micro-batch of
// per_device_batch rows, rounded up to a multiple of 8, for one seeded shuffle of the train rows).
struct DataStats {
  int64_t samples = 0;            // tokenized samples (records minus skipped ones)
  int64_t rows = 0;               // train + eval rows
  int64_t train_rows = 0, eval_rows = 0;
  int64_t tokens = 0;             // train: non-pad tokens
  int64_t trainable_tokens = 0;   // train: labels != -100
  int64_t pad_tokens = 0;         // train: pad tokens the collator adds
  int64_t truncated_samples = 0;  // samples cut by cutoff_len
  int64_t dropped_samples = 0;    // samples with no token in any row (greedy's long ones, random's remainders)
  int64_t skipped_records = 0;    // bad records skipped with on_bad_record=skip
  double padding_fraction = 0.0;  // pad_tokens / (tokens + pad_tokens)
  bool cache_hit = false;         // the tokenized cache was reused
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

// LLaMA-Factory 0.7's split of the preprocessed rows (train_test_split(test_size, seed)):
// val_size > 1 is a count, else a fraction with n_eval = ceil(val_size * n); val_size <= 1e-6
// keeps everything for training. Returns {train indices, eval indices}. Throws packbench::Error
// when either side would be empty. The rows are the ones Hugging Face picks: eval = the first
// n_eval of numpy.random.default_rng(seed).permutation(n), train = the rest, in that order.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_train_eval(int64_t n, double val_size, int seed);

}  // namespace packbench::data
