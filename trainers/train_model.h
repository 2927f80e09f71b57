// The LLaMA model behind the training loop's CausalLM interface (load, forward, save, FLOPs).
#pragma once

#include <memory>
#include <string>

#include "trainers/causal_lm.h"
#include "trainers/model/llama_model.h"
#include "trainers/train_config.h"

namespace packbench::train {

class LlamaTrainModel : public CausalLM {
 public:
  // `save_dtype` is the dtype of save(); checkpoints for resuming use float32 (exact).
  LlamaTrainModel(LlamaForCausalLM model, std::string tokenizer_dir);
  torch::Tensor forward(const Batch& batch) override;
  // The output head and cross-entropy run only on positions with a trainable target (prompt and
  // padding positions never reach the [tokens, vocab] logits).
  torch::Tensor loss_sum(const Batch& batch) override;
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() override;
  void train(bool on) override { model_->train(on); }
  void set_gradient_checkpointing(bool on) override { model_->set_gradient_checkpointing(on); }
  void set_layer_hooks(std::shared_ptr<LayerParamHooks> hooks) override { model_->set_layer_hooks(std::move(hooks)); }
  void to(torch::Device device) override { model_->to(device); }
  // save_pretrained into `dir` (other files in `dir` are kept), weights in save_dtype.
  void save(const std::string& dir) override;
  void save_exact(const std::string& dir) override;  // float32
  void load(const std::string& dir) override;
  double train_flops_per_token(int64_t seq_len) override;
  void set_save_dtype(torch::Dtype d) { save_dtype_ = d; }
  LlamaForCausalLM& module() { return model_; }

 private:
  void save_as(const std::string& dir, torch::Dtype dtype);
  LlamaForCausalLM model_;
  std::string tokenizer_dir_;
  torch::Dtype save_dtype_ = torch::kFloat32;
};

// The model a TrainConfig names: model_init=pretrained loads model_name_or_path's safetensors;
// random builds its config.json and draws init_weights(seed). float32 weights on `device`.
std::unique_ptr<LlamaTrainModel> make_train_model(const TrainConfig& config, torch::Device device);

}  // namespace packbench::train
