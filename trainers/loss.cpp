// Cross-entropy over trainable tokens and how micro-batch losses are normalised.
#include "trainers/loss.h"

#include "core/error.h"
#include "datasets/types.h"

namespace packbench::train {

LossNormalization parse_loss_normalization(const std::string& name) {
  if (name == "global_tokens") return LossNormalization::kGlobalTokens;
  if (name == "per_micro_batch") return LossNormalization::kPerMicroBatch;
  throw Error("loss_normalization: unknown value '" + name + "' (global_tokens or per_micro_batch)");
}

torch::Tensor cross_entropy_sum(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t V = logits.size(-1);
  auto flat = logits.reshape({-1, V});
  if (flat.scalar_type() != torch::kFloat32) flat = flat.to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(
      flat, targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(data::kIgnoreIndex).reduction(torch::kSum));
}

double micro_loss_scale(LossNormalization norm, int64_t micro_tokens, int64_t global_tokens,
                        int grad_accum, int world_size) {
  if (micro_tokens <= 0) return 0.0;
  if (norm == LossNormalization::kGlobalTokens) return 1.0 / static_cast<double>(global_tokens);
  return 1.0 / (static_cast<double>(micro_tokens) * grad_accum * world_size);
}

}  // namespace packbench::train
