// Training checkpoints: checkpoint-N/ with model, optimizer, RNG and trainer state, renamed into place.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <string>

#include "trainers/causal_lm.h"

namespace packbench::train {

class Distributed;
class ZeroAdamW;
class ZeroShards;

std::string checkpoint_dir(const std::string& output_dir, int64_t step);  // <out>/checkpoint-N

// The checkpoint-N folder of `output_dir` with the largest N, or "" when there is none.
// Half-written checkpoints (temporary names) are never returned.
std::string latest_checkpoint(const std::string& output_dir);

// Writes checkpoint-<step>: the model (model.save), optimizer.pt, rng_state.pt and
// trainer_state.json (`state`, which carries the data position and the log history) into a
// temporary folder, then renames it into place; then removes the oldest checkpoints beyond
// save_total_limit (-1 keeps all). Returns the folder.
std::string save_checkpoint(const std::string& output_dir, int64_t step, CausalLM& model,
                            torch::optim::Optimizer& optimizer, const nlohmann::json& state,
                            int64_t save_total_limit);

// Loads a checkpoint folder into model and optimizer, restores the CPU RNG and returns its
// trainer state. Throws packbench::Error naming the file when something is missing or corrupt.
nlohmann::json load_checkpoint(const std::string& dir, CausalLM& model, torch::optim::Optimizer& optimizer);

// Sharded runs (every rank calls these together): checkpoint-<step> holds the consolidated model
// (float32, as save_exact writes it, gathered unit by unit), zero/index.json and one optimizer
// shard per rank (zero/rank-R-of-W.pt: master weights, AdamW moments, step), rng_state.pt and
// trainer_state.json; written into a temporary folder that rank 0 renames into place.
std::string save_sharded_checkpoint(const std::string& output_dir, int64_t step, CausalLM& model, ZeroShards& shards,
                                    ZeroAdamW& optimizer, Distributed& dist, const nlohmann::json& state,
                                    int64_t save_total_limit);
// Restores this rank's shard from a sharded checkpoint (same world size and sharding only: the
// message says so otherwise) and the RNG; returns the trainer state.
nlohmann::json load_sharded_checkpoint(const std::string& dir, ZeroShards& shards, ZeroAdamW& optimizer,
                                       Distributed& dist);

}  // namespace packbench::train
