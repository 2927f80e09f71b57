// One pass per parameter for gradient clipping and the AdamW update, over torch::optim::AdamW's
// own state (so checkpoints and resume are unchanged) or over flat shards; CPU float32/float64.
#pragma once

#include <torch/torch.h>

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace packbench::train {

// The key torch::optim's state map uses for a parameter: the text of its TensorImpl pointer in
// LibTorch 1.x, the pointer itself in 2.x.
using OptimizerStateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;
OptimizerStateKey adamw_state_key(const torch::Tensor& param);

// Whether every parameter of `optimizer` is a CPU float32/float64 tensor (the fused step applies).
bool fused_adamw_applies(torch::optim::AdamW& optimizer);

// The global L2 norm of the gradients of `params` (undefined gradients count as zero).
double grad_global_norm(const std::vector<torch::Tensor>& params);

// One AdamW step exactly as torch::optim::AdamW::step computes it (decoupled weight decay, bias
// corrections, eps added to sqrt(v / bias2)), with every gradient multiplied by `grad_scale` first
// (the clipping coefficient, or 1), and each gradient zeroed in the same pass (no zero_grad
// needed afterwards). Parameters without a gradient are skipped, as AdamW skips them.
void fused_adamw_step(torch::optim::AdamW& optimizer, double grad_scale);

// The same update on one parameter's flat stretch (ZeRO shards): `step` is the step count after
// this update (1 for the first), `grad_scale` multiplies the gradient first, the gradient is zeroed.
struct AdamWStep {
  double lr = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, grad_scale = 1.0;
  int64_t step = 1;
};
void adamw_update(torch::Tensor param, torch::Tensor grad, torch::Tensor exp_avg, torch::Tensor exp_avg_sq,
                  const AdamWStep& s);

}  // namespace packbench::train
