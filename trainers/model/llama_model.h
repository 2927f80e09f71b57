// LLaMA causal language model in LibTorch, computing what Hugging Face's LlamaForCausalLM computes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "datasets/types.h"
#include "trainers/model/llama_config.h"

namespace packbench::train {

class LlamaModelImpl;  // the decoder stack ("model.*"), defined in llama_model.cpp

// How the tokens of a batch may attend to each other.
//   padding: attention_mask [B,T] (1 real, 0 pad); keys that are padding are never attended to.
//   kCross:  one causal mask per row (the paper's packing; also plain padded batches).
//   kBlock:  causal within each sample of a packed row; segment_ids [B,T] give each token's
//            sample index within its row (samples are contiguous), position_ids restart at 0.
//            Attention runs per segment, so no [T,T] mask is built for the row.
struct AttentionInputs {
  data::AttentionLayout layout = data::AttentionLayout::kCross;
  torch::Tensor position_ids;    // [B,T] int64 (required)
  torch::Tensor attention_mask;  // [B,T] 1 = real token, 0 = padding; undefined = no padding
  torch::Tensor segment_ids;     // [B,T] int64; used for kBlock
};

// Keys and values of earlier steps, for incremental decoding (kCross layout only).
// Every row shares one time axis of capacity S_max: step t writes slot `length .. length+T-1`
// for all rows. `valid` marks the slots holding real tokens, so left-padded prompts (and rows
// that are padded during decoding) are never attended to. Callers give position_ids per row
// (e.g. the count of real tokens before each slot).
struct KVCache {
  std::vector<torch::Tensor> k;  // per layer [B, n_kv_heads, S_max, head_dim]
  std::vector<torch::Tensor> v;  // per layer [B, n_kv_heads, S_max, head_dim]
  torch::Tensor valid;           // [B, S_max] bool: slot holds a real (non-padding) token
  int64_t length = 0;            // slots filled so far (same for every row)

  // Allocates an empty cache for `batch` rows of up to `max_len` tokens.
  static KVCache allocate(const LlamaConfig& config, int64_t batch, int64_t max_len,
                          torch::Dtype dtype, torch::Device device);
  int64_t batch() const { return valid.defined() ? valid.size(0) : 0; }
  int64_t capacity() const { return valid.defined() ? valid.size(1) : 0; }
  // Keeps only the rows in `rows` (int64 indices, in that order): drops finished sequences.
  void select_rows(const torch::Tensor& rows);
  void reset() { length = 0; if (valid.defined()) valid.zero_(); }
};

// Inverse rotary frequencies [head_dim/2] float32, with rope_scaling (llama3 / linear) applied,
// computed in float32 in the same order of operations as Hugging Face.
torch::Tensor rope_inv_freq(const LlamaConfig& config);

// Called around each decoder layer's use of its parameters (sharded training gathers them before
// and frees them after). With gradient checkpointing, a layer is used twice: in the forward pass
// and again when the backward pass recomputes it; after_backward(i) follows the recompute's
// backward, when layer i's parameter gradients are complete.
class LayerParamHooks {
 public:
  virtual ~LayerParamHooks() = default;
  virtual void before(int layer) = 0;
  virtual void after(int layer) = 0;
  virtual void after_backward(int layer) = 0;
};

class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  // Parameters are created float32 on the CPU and initialised with init_weights(0).
  explicit LlamaForCausalLMImpl(const LlamaConfig& config);
  // Parameters created with `options` (dtype, device); left uninitialised unless `init`.
  LlamaForCausalLMImpl(const LlamaConfig& config, torch::TensorOptions options, bool init);

  // input_ids [B,T] int64 -> logits [B,T,vocab] float32 (float64 for a float64 model). With a cache: appends this step's
  // keys and values (attention_mask marks which of the new tokens are real) and attends to
  // every valid cached slot up to and including each token's own.
  torch::Tensor forward(const torch::Tensor& input_ids, const AttentionInputs& attn,
                        KVCache* cache = nullptr);
  // The final normed hidden states [B,T,hidden] (model dtype); logits = lm_head(hidden).
  torch::Tensor forward_hidden(const torch::Tensor& input_ids, const AttentionInputs& attn,
                               KVCache* cache = nullptr);
  torch::Tensor logits_from_hidden(const torch::Tensor& hidden);  // float32 (or float64) logits
  // The output projection weight [vocab, hidden] (the embedding matrix when tied).
  torch::Tensor lm_head_weight();

  const LlamaConfig& config() const { return config_; }
  // Hugging Face's initialisation: every linear and embedding weight ~ normal(0,
  // initializer_range), RMSNorm weights 1. Draws on the CPU, so the result depends on the seed
  // only (not the device).
  void init_weights(uint64_t seed);
  // Parameters under their Hugging Face names ("model.layers.0.self_attn.q_proj.weight", ...),
  // in Hugging Face's order; a tied lm_head is not listed (as in HF's saved files).
  std::vector<std::pair<std::string, torch::Tensor>> hf_named_parameters();
  // Recompute each decoder layer in the backward pass instead of keeping its activations.
  void set_gradient_checkpointing(bool on) { gradient_checkpointing_ = on; }
  bool gradient_checkpointing() const { return gradient_checkpointing_; }
  // Hooks around each decoder layer (null: none). While they are set, a training forward with
  // gradients needs gradient checkpointing (a layer's parameters may be freed after its use).
  void set_layer_hooks(std::shared_ptr<LayerParamHooks> hooks) { layer_hooks_ = std::move(hooks); }

 private:
  LlamaConfig config_;
  bool gradient_checkpointing_ = false;
  std::shared_ptr<LayerParamHooks> layer_hooks_;
  std::shared_ptr<LlamaModelImpl> model_;       // "model.*"
  std::shared_ptr<torch::nn::Module> lm_head_;  // "lm_head.*" (null when tied)
  torch::Tensor inv_freq_;                       // rope_inv_freq(config_) on the model's device
};
TORCH_MODULE(LlamaForCausalLM);

}  // namespace packbench::train
