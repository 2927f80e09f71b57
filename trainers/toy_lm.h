// A tiny causal LM (embedding, one causal mixing layer, MLP, head) for trainer tests and references.
#pragma once

#include "trainers/causal_lm.h"

namespace packbench::train {

// h_t = E[x_t] + 0.5 * mean_{s<=t, same segment} E[x_s];  logits = W2 tanh(W1 h + b1).
// Small enough that scripts/reference/train_ref.py re-implements it in a few lines.
class ToyCausalLM : public CausalLM {
 public:
  ToyCausalLM(int64_t vocab, int64_t hidden, uint64_t seed);
  torch::Tensor forward(const Batch& batch) override;
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override;
  void train(bool on) override {}
  void to(torch::Device device) override;
  void save(const std::string& dir) override;  // dir/toy_model.pt
  void load(const std::string& dir) override;
  double train_flops_per_token(int64_t seq_len) override;
  int64_t vocab() const { return vocab_; }

 private:
  int64_t vocab_, hidden_;
  torch::Tensor embed_, w1_, b1_, w2_;
};

}  // namespace packbench::train
