// Cross-entropy over trainable tokens and how micro-batch losses are normalised.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace packbench::train {

enum class LossNormalization {
  kGlobalTokens,   // sum of CE / trainable tokens of the whole global batch (micro-steps x ranks)
  kPerMicroBatch,  // mean CE of each micro-batch / (grad_accum x world): the HF Trainer + DDP
};

LossNormalization parse_loss_normalization(const std::string& name);

// Sum (float32) of the cross-entropy of logits [B, T, V] against targets [B, T] (-100 ignored).
torch::Tensor cross_entropy_sum(const torch::Tensor& logits, const torch::Tensor& targets);

// The factor a micro-batch's CE sum is multiplied by before backward, so that the gradients
// summed over the step's micro-batches and all ranks are the chosen normalisation; the same
// factor applied to the loss values gives the step's reported loss (their sum over micro-batches
// and ranks). A micro-batch with no trainable token contributes nothing (factor 0).
double micro_loss_scale(LossNormalization norm, int64_t micro_tokens, int64_t global_tokens,
                        int grad_accum, int world_size);

}  // namespace packbench::train
