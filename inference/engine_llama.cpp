// The inference engine's DecoderBackend over packbench's LlamaForCausalLM and its KVCache.
#include "inference/engine_llama.h"

#include "core/error.h"

namespace packbench::train {
namespace {

class LlamaCache : public DecodeCache {
 public:
  explicit LlamaCache(KVCache kv) : kv(std::move(kv)) {}
  int64_t rows() const override { return kv.batch(); }
  int64_t length() const override { return kv.length; }
  void select_rows(const torch::Tensor& rows) override { kv.select_rows(rows); }
  KVCache kv;
};

class LlamaBackend : public DecoderBackend {
 public:
  explicit LlamaBackend(LlamaForCausalLM model) : model_(std::move(model)) {
    model_->eval();
    auto w = model_->lm_head_weight();
    device_ = w.device();
    dtype_ = w.scalar_type();
  }
  int64_t vocab_size() const override { return model_->config().vocab_size; }
  int64_t max_positions() const override { return model_->config().max_position_embeddings; }
  torch::Device device() const override { return device_; }
  std::unique_ptr<DecodeCache> new_cache(int64_t rows, int64_t capacity) override {
    return std::make_unique<LlamaCache>(KVCache::allocate(model_->config(), rows, capacity, dtype_, device_));
  }
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& key_mask,
                        DecodeCache* cache, int64_t n_logits) override {
    const int64_t T = ids.size(1);
    AttentionInputs a;
    a.layout = data::AttentionLayout::kCross;
    a.position_ids = positions;
    KVCache* kv = nullptr;
    if (cache) {
      auto* lc = dynamic_cast<LlamaCache*>(cache);
      if (!lc) throw Error("llama backend: a cache from another backend");
      kv = &lc->kv;
      a.attention_mask = key_mask.narrow(1, kv->length, T);  // the cache remembers earlier slots
    } else {
      a.attention_mask = key_mask;
    }
    auto hidden = model_->forward_hidden(ids, a, kv);
    if (n_logits < T) hidden = hidden.narrow(1, T - n_logits, n_logits);
    return model_->logits_from_hidden(hidden);
  }

 private:
  LlamaForCausalLM model_;
  torch::Device device_{torch::kCPU};
  torch::ScalarType dtype_ = torch::kFloat;
};

}  // namespace

std::shared_ptr<DecoderBackend> make_llama_backend(LlamaForCausalLM model) {
  return std::make_shared<LlamaBackend>(std::move(model));
}

}  // namespace packbench::train
