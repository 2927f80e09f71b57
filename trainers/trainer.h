// The supervised fine-tuning loop: AdamW, LR schedule, accumulation, clipping, eval, checkpoints.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "datasets/types.h"
#include "trainers/causal_lm.h"
#include "trainers/parallel/distributed.h"
#include "trainers/train_config.h"

namespace packbench::train {

struct TrainData {
  std::vector<data::Row> train_rows, eval_rows;
  nlohmann::json data_stats;  // written into train_results.json when not null
  int64_t pad_id = 0;
};

struct TrainHooks {
  // Called on every rank after optimizer step `global_step` (1-based) and its checkpoint.
  std::function<void(int64_t global_step)> after_step;
  bool measure_gemm_ceiling = true;  // MFU needs it; tests may skip the half-second matmul
  bool write_outputs = true;         // train_results.json, trainer_state.json, logs, final model
};

struct TrainOutcome {
  int64_t global_step = 0, total_steps = 0;
  double train_loss = 0.0;           // mean of the step losses of this run (HF's train_loss)
  std::vector<double> step_losses;   // every optimizer step's loss (this process's run only)
  std::vector<double> grad_norms;
  std::vector<std::pair<int64_t, double>> eval_losses;  // (step, eval loss)
  nlohmann::json train_results;
  std::string resumed_from;
};

// Trains `model` (already on its device, same initial weights on every rank or broadcast from
// rank 0 here) on the rows. Rank 0 writes output_dir. Throws packbench::Error on a non-finite
// loss (naming the step), on bad options and when a peer process fails.
TrainOutcome run_training(const TrainConfig& config, CausalLM& model, const TrainData& data,
                          Distributed& dist, const TrainHooks& hooks = {});

// The device training runs on: CUDA (device LOCAL_RANK) when this LibTorch has it, else CPU.
torch::Device training_device(int local_rank);

// Intra-op threads: config.num_threads, else hardware cores / processes on this machine.
int resolve_num_threads(int configured, int local_world_size);

}  // namespace packbench::train
