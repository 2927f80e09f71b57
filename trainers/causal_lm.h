// What the training loop needs from a model: forward on a collated batch, parameters, save/load.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "trainers/collate_torch.h"
#include "trainers/loss.h"
#include "trainers/model/llama_model.h"

namespace packbench::train {

class CausalLM {
 public:
  virtual ~CausalLM() = default;
  // Logits [B, T, vocab] (float32 or bf16) for a collated batch.
  virtual torch::Tensor forward(const Batch& batch) = 0;
  // Cross-entropy summed over the batch's trainable targets (a float32 scalar). This default
  // computes logits at every position; a model may compute them only where a target is trained.
  virtual torch::Tensor loss_sum(const Batch& batch) { return cross_entropy_sum(forward(batch), batch.targets); }
  // Trainable parameters in a fixed order (the same on every rank), with their names.
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_parameters() = 0;
  virtual void train(bool on) = 0;
  virtual void set_gradient_checkpointing(bool on) {}
  // Hooks around each decoder layer (sharded parameters); a model without layers ignores them.
  virtual void set_layer_hooks(std::shared_ptr<LayerParamHooks> hooks) {}
  virtual void to(torch::Device device) = 0;
  // Writes the model so that load() (and other tools, for LLaMA) can read it back exactly.
  virtual void save(const std::string& dir) = 0;
  // The weights of a resumable checkpoint: exact (a model that saves in a narrower dtype for
  // release keeps full precision here).
  virtual void save_exact(const std::string& dir) { save(dir); }
  virtual void load(const std::string& dir) = 0;
  // Training FLOPs per token for a row of `seq_len` tokens (forward + backward).
  virtual double train_flops_per_token(int64_t seq_len) = 0;
  virtual int64_t num_parameters() {
    int64_t n = 0;
    for (auto& [name, p] : named_parameters()) n += p.numel();
    return n;
  }
};

}  // namespace packbench::train
