// AdamW over this rank's ZeRO shards (fp32 master weights and moments), with clipping by the global gradient norm.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "trainers/parallel/zero_shards.h"

namespace packbench::train {

struct ZeroAdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class ZeroAdamW {
 public:
  // decays[i]: whether parameter i (in the shards' parameter order) takes weight decay.
  ZeroAdamW(ZeroShards& shards, ZeroAdamWOptions options, std::vector<bool> decays);
  // One optimizer step on the reduced gradient shards: the global gradient norm (returned) clips
  // them to max_grad_norm (<= 0: no clipping), AdamW updates the master shards exactly as
  // torch::optim::AdamW would the whole parameters, and the shards are published to the model.
  double step(double lr, double max_grad_norm);
  // AdamW moments held by this rank (bytes).
  int64_t moment_bytes() const;
  // This rank's resumable state: master shards, moments and the step count, one file per rank.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  ZeroShards& shards_;
  ZeroAdamWOptions o_;
  std::vector<bool> decays_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;  // per unit, [shard]
  int64_t step_ = 0;
};

}  // namespace packbench::train
