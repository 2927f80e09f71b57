// Training hyperparameters, named as LLaMA-Factory and the Hugging Face Trainer name them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace packbench::train {

struct TrainConfig {
  // Model.
  std::string model_name_or_path;   // folder with config.json (+ safetensors unless model_init=random)
  std::string model_init = "pretrained";  // pretrained | random (init_weights(seed) from config.json)
  // Data (passed to datasets/pipeline.h).
  std::string dataset, dataset_dir, tokenizer_dir;
  std::string template_name = "llama3_lf07";  // YAML key: template
  int cutoff_len = 4096;
  double val_size = 0.1;
  int64_t max_samples = -1;
  int preprocessing_num_workers = 1;  // data shards
  int preprocessing_batch_size = 1000;
  std::string on_bad_record = "fail";
  bool train_on_prompt = false, mask_history = false;
  std::string row_method = "padding";  // padding | random | greedy | bfd
  std::string attention = "cross";     // cross | block
  std::string cache_dir;
  std::string rows_file;  // packbench: pre-built rows (JSONL) instead of dataset (tests, benchmarks)
  // Optimisation.
  double learning_rate = 5e-5;
  double num_train_epochs = 3.0;
  int64_t max_steps = -1;
  int per_device_train_batch_size = 8, per_device_eval_batch_size = 8;
  int gradient_accumulation_steps = 1;
  std::string lr_scheduler_type = "linear";  // cosine | linear | constant | constant_with_warmup
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;
  double max_grad_norm = 1.0, weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  std::string loss_normalization = "global_tokens";  // global_tokens | per_micro_batch
  bool bf16 = false, gradient_checkpointing = false;
  int seed = 42;
  // Bookkeeping.
  std::string output_dir;
  bool overwrite_output_dir = false;
  std::string resume_from_checkpoint;  // "" none, "auto"/"true" latest in output_dir, or a folder
  int64_t logging_steps = 10, eval_steps = 0, save_steps = 500;  // 0: never
  int64_t save_total_limit = -1;  // -1: keep all checkpoints
  bool save_final_model = true;
  // dtype of the final model's safetensors: auto (bfloat16 when bf16 is set, else float32),
  // float32, bfloat16 or float16. Checkpoints for resuming always keep float32.
  std::string save_dtype = "auto";
  int num_threads = 0;            // intra-op threads; 0: cores / local world size
  int ddp_timeout = 1800;         // seconds a collective may wait for a peer
  int64_t ddp_bucket_size_mb = 25;
  // Sharded data parallelism (DeepSpeed's stage names): none | zero1 (optimizer state) | zero2
  // (+ gradients) | zero3 (+ parameters, gathered per decoder layer); offloads: none | cpu.
  std::string sharding = "none";
  std::string offload_optimizer = "none";
  std::string offload_params = "none";  // zero3 only
  // Overlap communication with compute when sharded: zero3 prefetches the next layer's all-gather,
  // zero2/3 leave each layer's gradient reduce-scatter in flight during the next backward.
  bool zero_prefetch = true;
  std::string deepspeed;  // a DeepSpeed JSON config (LLaMA-Factory's `deepspeed:`), mapped onto the three above

  nlohmann::json to_json() const;
  std::string to_yaml() const;
};

// Reads `path` (YAML; "" for none), applies `overrides` ("key=value", YAML scalars), validates.
// Unknown keys and bad values throw packbench::Error naming the file (or "command line") and key.
TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides);

// The LLaMA-Factory keys packbench accepts but does not act on (they describe its setup).
const std::vector<std::string>& ignored_config_keys();

}  // namespace packbench::train
