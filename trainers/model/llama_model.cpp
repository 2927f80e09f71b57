// LLaMA causal language model in LibTorch: embeddings, RMSNorm, RoPE (llama3 scaling), GQA
// attention per row layout (padding / cross / block), SwiGLU MLP, tied or untied head, KV cache.
#include "trainers/model/llama_model.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>
#include <functional>

#include "core/error.h"
#include "trainers/model/attention_causal.h"
#include "trainers/model/fused_ops.h"

namespace packbench::train {
namespace {

using torch::Tensor;
namespace F = torch::nn::functional;


// ---------------------------------------------------------------------------------------------
// Leaf modules (parameters named as Hugging Face names them)

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, const torch::TensorOptions& o) {
    weight = register_parameter("weight", torch::empty({out, in}, o));
  }
  Tensor forward(const Tensor& x) { return torch::linear(x, weight); }
  Tensor weight;  // [out, in]
};

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t n, int64_t dim, const torch::TensorOptions& o) {
    weight = register_parameter("weight", torch::empty({n, dim}, o));
  }
  Tensor forward(const Tensor& ids) { return torch::embedding(weight, ids); }
  Tensor weight;  // [vocab, hidden]
};

// RMSNorm as Hugging Face computes it: variance in float32, normalised value cast back to the
// input dtype, then scaled by the weight.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& o) : eps_(eps) {
    weight = register_parameter("weight", torch::ones({dim}, o));
  }
  Tensor forward(const Tensor& x) { return fused_rms_norm(x, weight, eps_); }
  Tensor weight;

 private:
  double eps_;
};

// ---------------------------------------------------------------------------------------------
// Attention masks and the attention kernel

// What one forward pass needs to know about who attends to whom (shared by every layer).
struct MaskPlan {
  data::AttentionLayout layout = data::AttentionLayout::kCross;
  int64_t past = 0;   // cached slots before this step's tokens
  // kCross: allowed [B,T,S] bool (undefined: plain causal with S == T).
  Tensor allowed;
  // kCross: every row is real tokens then padding, so causal attention gives the real tokens'
  // outputs exactly (padding positions differ, and no loss or later token reads them).
  bool right_padded = false;
  // A KV-cache prefill (past == 0) with padding: which of its keys are real [B,T] (undefined: all).
  Tensor prefill_key_valid;
  // kBlock: per row, the [begin, end) runs of equal segment id; key_valid [B,T] or undefined.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> segments;
  Tensor key_valid;
};

// Causal mask [T,S] for T queries following `past` cached slots: query i sees slots <= past+i.
Tensor causal_mask(int64_t T, int64_t S, int64_t past, const torch::Device& dev) {
  return torch::ones({T, S}, torch::TensorOptions().dtype(torch::kBool).device(dev)).tril(past);
}

// Allowed [B,T,S]: causal, keys valid, and each query always sees its own slot (so a padding
// query never has an empty softmax row; real tokens are unaffected since their slot is valid).
Tensor padded_causal_mask(const Tensor& key_valid /*[B,S] bool*/, int64_t T, int64_t past) {
  const int64_t S = key_valid.size(1);
  const auto dev = key_valid.device();
  Tensor causal = causal_mask(T, S, past, dev);                                   // [T,S]
  Tensor self = torch::zeros({T, S}, causal.options());
  self.slice(1, past, past + T).fill_diagonal_(true);
  return causal.unsqueeze(0) & (key_valid.unsqueeze(1) | self.unsqueeze(0));     // [B,T,S]
}

// softmax(q k^T / sqrt(d)) v with grouped-query heads. q [B,H,T,d], k and v [B,KV,S,d];
// allowed: bool mask broadcastable to [B,T,S] (undefined: none); causal: plain causal, T == S.
Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& allowed, bool causal) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3);
  const int64_t KV = k.size(1), S = k.size(2), rep = H / KV;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
#if TORCH_VERSION_MAJOR >= 2
  {
    // Fused attention (flash / memory-efficient kernels on CUDA). K and V are expanded to all
    // query heads since grouped heads are not accepted by every 2.x release.
    Tensor ke = rep == 1 ? k : k.unsqueeze(2).expand({B, KV, rep, S, d}).reshape({B, H, S, d});
    Tensor ve = rep == 1 ? v : v.unsqueeze(2).expand({B, KV, rep, S, d}).reshape({B, H, S, d});
    if (!allowed.defined()) {
      return at::scaled_dot_product_attention(q, ke, ve, {}, 0.0, /*is_causal=*/causal);
    }
    Tensor m = allowed.dim() == 2 ? allowed.view({1, 1, T, S}) : allowed.view({allowed.size(0), 1, T, S});
    return at::scaled_dot_product_attention(q, ke, ve, m, 0.0, false);
  }
#endif
  // Reference path: query heads of one group share their K/V head without copying it.
  Tensor qg = q.reshape({B, KV, rep * T, d});
  Tensor scores = torch::matmul(qg, k.transpose(-1, -2)) * scale;  // [B,KV,rep*T,S]
  scores = scores.view({B, KV, rep, T, S});
  Tensor m = allowed;
  if (!m.defined() && causal) m = causal_mask(T, S, 0, q.device());
  if (m.defined()) {
    m = m.dim() == 2 ? m.view({1, 1, 1, T, S}) : m.view({m.size(0), 1, 1, T, S});
    scores = scores.masked_fill(m.logical_not(), -std::numeric_limits<double>::infinity());
  }
  Tensor probs = torch::softmax(scores, -1, accumulate_dtype(q.scalar_type())).to(q.scalar_type());
  Tensor out = torch::matmul(probs.view({B, KV, rep * T, S}), v);  // [B,KV,rep*T,d]
  return out.view({B, H, T, d});
}

// Per-forward inputs of every decoder layer.
struct LayerInputs {
  Tensor cos, sin;  // [B,T,head_dim] in the model dtype
  std::shared_ptr<MaskPlan> plan;
  KVCache* cache = nullptr;
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const LlamaConfig& c, const torch::TensorOptions& o)
      : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim()) {
    q_proj = register_module("q_proj", std::make_shared<LinearImpl>(c.hidden_size, heads_ * head_dim_, o));
    k_proj = register_module("k_proj", std::make_shared<LinearImpl>(c.hidden_size, kv_heads_ * head_dim_, o));
    v_proj = register_module("v_proj", std::make_shared<LinearImpl>(c.hidden_size, kv_heads_ * head_dim_, o));
    o_proj = register_module("o_proj", std::make_shared<LinearImpl>(heads_ * head_dim_, c.hidden_size, o));
  }

  Tensor forward(const Tensor& x, const LayerInputs& in, int64_t layer) {
    const int64_t B = x.size(0), T = x.size(1);
    Tensor q = fused_rope(q_proj->forward(x), in.cos, in.sin, heads_);  // [B,H,T,d]
    Tensor k = fused_rope(k_proj->forward(x), in.cos, in.sin, kv_heads_);
    Tensor v = v_proj->forward(x).view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
    const MaskPlan& plan = *in.plan;
    Tensor out;
    if (in.cache) {
      KVCache& c = *in.cache;
      const int64_t past = plan.past;
      c.k[layer].narrow(2, past, T).copy_(k);
      c.v[layer].narrow(2, past, T).copy_(v);
      if (past == 0 && use_causal_kernel(q)) {  // a prefill: the chunked kernel with the key mask
        return o_proj->forward(causal_attention(q, k, v, plan.prefill_key_valid));
      }
      out = attend(q, c.k[layer].narrow(2, 0, past + T), c.v[layer].narrow(2, 0, past + T), plan.allowed, false);
    } else if (plan.layout == data::AttentionLayout::kBlock) {
      return o_proj->forward(block_attention(q, k, v, plan));
    } else if (use_causal_kernel(q) && (!plan.allowed.defined() || plan.right_padded)) {
      return o_proj->forward(causal_attention(q, k, v));  // already [B,T,H*d]
    } else {
      out = attend(q, k, v, plan.allowed, /*causal=*/!plan.allowed.defined());
    }
    out = out.transpose(1, 2).reshape({B, T, heads_ * head_dim_});
    return o_proj->forward(out);
  }

  std::shared_ptr<LinearImpl> q_proj, k_proj, v_proj, o_proj;

 private:
  // The chunked causal kernel (trainers/model/attention_causal.h) except where LibTorch 2.x on CUDA has
  // fused attention kernels.
  static bool use_causal_kernel(const Tensor& q) {
#if TORCH_VERSION_MAJOR >= 2
    return !q.is_cuda();
#else
    return true;
#endif
  }

  // Causal attention inside each contiguous segment of each row; no [T,T] mask for the row.
  // Returns [B,T,H*d].
  Tensor block_attention(const Tensor& q, const Tensor& k, const Tensor& v, const MaskPlan& plan) {
    const int64_t B = q.size(0), H = q.size(1), d = q.size(3);
    std::vector<Tensor> rows;
    rows.reserve(B);
    for (int64_t b = 0; b < B; ++b) {
      std::vector<Tensor> parts;
      for (const auto& [s, e] : plan.segments[b]) {
        const int64_t len = e - s;
        Tensor qs = q.narrow(0, b, 1).narrow(2, s, len);
        Tensor ks = k.narrow(0, b, 1).narrow(2, s, len);
        Tensor vs = v.narrow(0, b, 1).narrow(2, s, len);
        Tensor allowed;
        if (plan.key_valid.defined()) {
          Tensor kv = plan.key_valid.narrow(0, b, 1).narrow(1, s, len);
          if (!kv.all().item<bool>()) allowed = padded_causal_mask(kv, len, 0);
        }
        if (!allowed.defined() && use_causal_kernel(qs)) {
          parts.push_back(causal_attention(qs, ks, vs));
        } else {
          parts.push_back(attend(qs, ks, vs, allowed, !allowed.defined()).transpose(1, 2).reshape({1, len, H * d}));
        }
      }
      rows.push_back(parts.size() == 1 ? parts[0] : torch::cat(parts, 1));
    }
    return B == 1 ? rows[0] : torch::cat(rows, 0);
  }

  int64_t heads_, kv_heads_, head_dim_;
};

class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(const LlamaConfig& c, const torch::TensorOptions& o) {
    gate_proj = register_module("gate_proj", std::make_shared<LinearImpl>(c.hidden_size, c.intermediate_size, o));
    up_proj = register_module("up_proj", std::make_shared<LinearImpl>(c.hidden_size, c.intermediate_size, o));
    down_proj = register_module("down_proj", std::make_shared<LinearImpl>(c.intermediate_size, c.hidden_size, o));
  }
  Tensor forward(const Tensor& x) {
    return down_proj->forward(fused_swiglu(gate_proj->forward(x), up_proj->forward(x)));
  }
  std::shared_ptr<LinearImpl> gate_proj, up_proj, down_proj;
};

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const LlamaConfig& c, const torch::TensorOptions& o, int64_t index) : index_(index) {
    self_attn = register_module("self_attn", std::make_shared<AttentionImpl>(c, o));
    mlp = register_module("mlp", std::make_shared<MLPImpl>(c, o));
    input_layernorm = register_module("input_layernorm", std::make_shared<RMSNormImpl>(c.hidden_size, c.rms_norm_eps, o));
    post_attention_layernorm =
        register_module("post_attention_layernorm", std::make_shared<RMSNormImpl>(c.hidden_size, c.rms_norm_eps, o));
  }
  Tensor forward(const Tensor& x, const LayerInputs& in) {
    Tensor h = x + self_attn->forward(input_layernorm->forward(x), in, index_);
    return h + mlp->forward(post_attention_layernorm->forward(h));
  }
  std::shared_ptr<AttentionImpl> self_attn;
  std::shared_ptr<MLPImpl> mlp;
  std::shared_ptr<RMSNormImpl> input_layernorm, post_attention_layernorm;

 private:
  int64_t index_;
};

// ---------------------------------------------------------------------------------------------
// Activation checkpointing: run a layer without keeping its graph, recompute it in backward.

// Whether CUDA autocast (bf16 mixed precision) is on, in both LibTorch generations' spelling.
bool cuda_autocast_enabled() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

// Sets CUDA autocast to `on` for its lifetime (bf16), restoring the previous state after.
class AutocastState {
 public:
  explicit AutocastState(bool on) : was_(cuda_autocast_enabled()), on_(on) { set(on); }
  ~AutocastState() {
    set(was_);
    // The bf16 weight copies this scope cached are not needed after it (the caller's own
    // autocast scope, if any, clears its cache when it ends).
    if (on_ && !was_) at::autocast::clear_cache();
  }

 private:
  static void set(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, on);
    if (on) at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_enabled(on);
    if (on) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  }
  bool was_, on_;
};

struct LayerClosure : torch::CustomClassHolder {
  std::function<Tensor(const Tensor&)> fn;
  bool autocast = false;  // the forward ran under CUDA autocast: so does the recompute
  std::shared_ptr<LayerParamHooks> hooks;  // may be null
  int layer = 0;
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  static Tensor forward(torch::autograd::AutogradContext* ctx, Tensor x, c10::intrusive_ptr<LayerClosure> closure) {
    ctx->saved_data["closure"] = c10::IValue::make_capsule(closure);
    ctx->save_for_backward({x});
    closure->autocast = cuda_autocast_enabled();
    torch::NoGradGuard no_grad;
    if (closure->hooks) closure->hooks->before(closure->layer);
    Tensor y = closure->fn(x);
    if (closure->hooks) closure->hooks->after(closure->layer);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto closure = c10::static_intrusive_pointer_cast<LayerClosure>(ctx->saved_data["closure"].toCapsule());
    Tensor y;
    if (closure->hooks) closure->hooks->before(closure->layer);
    {
      torch::AutoGradMode enable(true);
      AutocastState ac(closure->autocast);  // the backward pass runs outside the caller's autocast
      y = closure->fn(x);
    }
    torch::autograd::backward({y}, {grads[0]});  // accumulates the layer's parameter gradients
    y = Tensor();
    Tensor gx = x.grad();
    if (closure->hooks) {
      closure->hooks->after_backward(closure->layer);
      closure->hooks->after(closure->layer);
    }
    return {gx, Tensor()};
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// The decoder stack ("model.*")

class LlamaModelImpl : public torch::nn::Module {
 public:
  LlamaModelImpl(const LlamaConfig& c, const torch::TensorOptions& o) {
    embed_tokens = register_module("embed_tokens", std::make_shared<EmbeddingImpl>(c.vocab_size, c.hidden_size, o));
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      auto layer = std::make_shared<DecoderLayerImpl>(c, o, i);
      layers->push_back(layer);
      layer_ptrs.push_back(layer);
    }
    norm = register_module("norm", std::make_shared<RMSNormImpl>(c.hidden_size, c.rms_norm_eps, o));
  }
  std::shared_ptr<EmbeddingImpl> embed_tokens;
  torch::nn::ModuleList layers{nullptr};
  std::vector<std::shared_ptr<DecoderLayerImpl>> layer_ptrs;
  std::shared_ptr<RMSNormImpl> norm;
};

torch::Tensor rope_inv_freq(const LlamaConfig& c) {
  const int64_t dim = c.head_dim();
  // Float32 throughout, as Hugging Face's rotary initialisation computes it.
  Tensor exponent = torch::arange(0, dim, 2, torch::kLong).to(torch::kFloat) / static_cast<float>(dim);
  Tensor inv_freq = 1.0 / torch::pow(c10::Scalar(c.rope_theta), exponent);
  if (!c.rope_scaling) return inv_freq;
  const RopeScaling& r = *c.rope_scaling;
  if (r.rope_type == "linear") return inv_freq / r.factor;
  // llama3: long wavelengths are divided by `factor`, short ones kept, the band between blended.
  const double old_len = static_cast<double>(r.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / r.low_freq_factor;
  const double high_freq_wavelen = old_len / r.high_freq_factor;
  Tensor wavelen = 2 * M_PI / inv_freq;
  Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / r.factor, inv_freq);
  Tensor smooth = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  Tensor smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
  Tensor is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen);
  return torch::where(is_medium, smoothed, scaled);
}

KVCache KVCache::allocate(const LlamaConfig& config, int64_t batch, int64_t max_len, torch::Dtype dtype,
                          torch::Device device) {
  KVCache c;
  auto o = torch::TensorOptions().dtype(dtype).device(device);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    c.k.push_back(torch::zeros({batch, config.num_key_value_heads, max_len, config.head_dim()}, o));
    c.v.push_back(torch::zeros({batch, config.num_key_value_heads, max_len, config.head_dim()}, o));
  }
  c.valid = torch::zeros({batch, max_len}, torch::TensorOptions().dtype(torch::kBool).device(device));
  return c;
}

void KVCache::select_rows(const torch::Tensor& rows) {
  Tensor idx = rows.to(valid.device(), torch::kLong);
  for (auto& t : k) t = t.index_select(0, idx);
  for (auto& t : v) t = t.index_select(0, idx);
  valid = valid.index_select(0, idx);
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& config)
    : LlamaForCausalLMImpl(config, torch::TensorOptions().dtype(torch::kFloat), true) {}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& config, torch::TensorOptions options, bool init)
    : config_(config) {
  config_.validate("LlamaConfig");
  model_ = register_module("model", std::make_shared<LlamaModelImpl>(config_, options));
  if (!config_.tie_word_embeddings) {
    lm_head_ = register_module("lm_head", std::make_shared<LinearImpl>(config_.hidden_size, config_.vocab_size, options));
  }
  if (init) init_weights(0);
}

torch::Tensor LlamaForCausalLMImpl::lm_head_weight() {
  if (lm_head_) return std::static_pointer_cast<LinearImpl>(lm_head_)->weight;
  return model_->embed_tokens->weight;
}

void LlamaForCausalLMImpl::init_weights(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& [name, p] : hf_named_parameters()) {
    const bool is_norm = name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    if (is_norm) {
      p.fill_(1.0);
    } else {
      Tensor w = torch::empty(p.sizes(), torch::kFloat).normal_(0.0, config_.initializer_range, gen);
      p.copy_(w);
    }
  }
}

std::vector<std::pair<std::string, torch::Tensor>> LlamaForCausalLMImpl::hf_named_parameters() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

torch::Tensor LlamaForCausalLMImpl::forward_hidden(const torch::Tensor& input_ids, const AttentionInputs& attn,
                                                   KVCache* cache) {
  const char* where = "LlamaForCausalLM.forward";
  if (input_ids.dim() != 2) throw Error(std::string(where) + ": input_ids must be [B,T]");
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  const auto dev = model_->embed_tokens->weight.device();
  const auto dtype = model_->embed_tokens->weight.scalar_type();
  if (!attn.position_ids.defined() || attn.position_ids.sizes() != input_ids.sizes()) {
    throw Error(std::string(where) + ": position_ids must be given with the shape of input_ids [B,T]");
  }
  if (attn.attention_mask.defined() && attn.attention_mask.sizes() != input_ids.sizes()) {
    throw Error(std::string(where) + ": attention_mask must have the shape of input_ids [B,T]");
  }
  Tensor ids = input_ids.to(dev, torch::kLong);
  Tensor key_valid;  // [B,T] bool or undefined when every token is real
  if (attn.attention_mask.defined()) {
    key_valid = attn.attention_mask.to(dev).to(torch::kBool);
    if (!cache && key_valid.all().item<bool>()) key_valid = Tensor();
  }

  // Masks for this pass.
  auto plan = std::make_shared<MaskPlan>();
  plan->layout = attn.layout;
  if (cache) {
    if (attn.layout != data::AttentionLayout::kCross) throw Error(std::string(where) + ": the KV cache needs the cross layout");
    if (cache->batch() != B) throw Error(std::string(where) + ": KV cache has " + std::to_string(cache->batch()) + " rows, input has " + std::to_string(B));
    if (cache->length + T > cache->capacity()) {
      throw Error(std::string(where) + ": KV cache full (" + std::to_string(cache->length) + " + " + std::to_string(T) +
                  " > capacity " + std::to_string(cache->capacity()) + ")");
    }
    plan->past = cache->length;
    cache->valid.narrow(1, plan->past, T).copy_(key_valid.defined() ? key_valid : torch::ones({B, T}, cache->valid.options()));
    plan->allowed = padded_causal_mask(cache->valid.narrow(1, 0, plan->past + T), T, plan->past);
    if (plan->past == 0 && key_valid.defined() && !key_valid.all().item<bool>()) plan->prefill_key_valid = key_valid;
  } else if (attn.layout == data::AttentionLayout::kBlock) {
    if (!attn.segment_ids.defined() || attn.segment_ids.sizes() != input_ids.sizes()) {
      throw Error(std::string(where) + ": the block layout needs segment_ids with the shape of input_ids [B,T]");
    }
    Tensor seg = attn.segment_ids.to(torch::kCPU, torch::kLong).contiguous();
    auto a = seg.accessor<int64_t, 2>();
    plan->segments.resize(B);
    for (int64_t b = 0; b < B; ++b) {
      int64_t start = 0;
      for (int64_t t = 1; t <= T; ++t) {
        if (t == T || a[b][t] != a[b][t - 1]) {
          plan->segments[b].emplace_back(start, t);
          start = t;
        }
      }
    }
    plan->key_valid = key_valid;
  } else if (key_valid.defined()) {
    plan->allowed = padded_causal_mask(key_valid, T, 0);
    Tensor kv = key_valid.to(torch::kLong);
    plan->right_padded = std::get<0>(kv.cummin(1)).equal(kv);  // no real token after a padding one
  }

  // Rotary tables for these positions: [B,T,head_dim].
  if (!inv_freq_.defined() || inv_freq_.device() != dev) inv_freq_ = rope_inv_freq(config_).to(dev);
  Tensor pos = attn.position_ids.to(dev, torch::kLong).to(torch::kFloat);
  Tensor freqs = pos.unsqueeze(-1) * inv_freq_.view({1, 1, -1});  // [B,T,d/2]
  Tensor emb = torch::cat({freqs, freqs}, -1);                    // [B,T,d]
  LayerInputs in{emb.cos().to(dtype), emb.sin().to(dtype), plan, cache};

  Tensor h = model_->embed_tokens->forward(ids);
  const bool checkpoint = gradient_checkpointing_ && !cache && torch::GradMode::is_enabled() && is_training();
  if (layer_hooks_ && torch::GradMode::is_enabled() && !checkpoint)
    throw Error(std::string(where) + ": layer hooks (sharded parameters) need gradient checkpointing when training");
  for (size_t i = 0; i < model_->layer_ptrs.size(); ++i) {
    auto& layer = model_->layer_ptrs[i];
    if (checkpoint) {
      auto closure = c10::make_intrusive<LayerClosure>();
      closure->fn = [layer, in](const Tensor& x) { return layer->forward(x, in); };
      closure->hooks = layer_hooks_;
      closure->layer = static_cast<int>(i);
      Tensor x = h.requires_grad() ? h : h.detach().requires_grad_(true);
      h = CheckpointFunction::apply(x, closure);
    } else {
      if (layer_hooks_) layer_hooks_->before(static_cast<int>(i));
      h = layer->forward(h, in);
      if (layer_hooks_) layer_hooks_->after(static_cast<int>(i));
    }
  }
  if (cache) cache->length += T;
  return model_->norm->forward(h);
}

torch::Tensor LlamaForCausalLMImpl::logits_from_hidden(const torch::Tensor& hidden) {
  Tensor logits = torch::linear(hidden, lm_head_weight());
  // Float32 logits (as Hugging Face's .float()); a float64 model keeps float64 (gradient checks).
  return logits.scalar_type() == torch::kDouble ? logits : logits.to(torch::kFloat);
}

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& input_ids, const AttentionInputs& attn, KVCache* cache) {
  return logits_from_hidden(forward_hidden(input_ids, attn, cache));
}

}  // namespace packbench::train
