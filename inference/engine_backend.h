// The seam between the inference engine and a decoder model: forward passes that extend a KV cache.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>

namespace packbench::train {

// Keys and values cached for a batch of rows that share one time axis. Rows of different lengths
// are left-padded; the engine passes which cached positions are real with every forward.
class DecodeCache {
 public:
  virtual ~DecodeCache() = default;
  virtual int64_t rows() const = 0;
  virtual int64_t length() const = 0;  // positions cached so far (the shared time axis)
  // Keeps only `rows` (int64 [B'] indices into the current rows, repeats allowed), in that
  // order: drops finished sequences, or copies a shared context once per choice.
  virtual void select_rows(const torch::Tensor& rows) = 0;
};

// A causal decoder the engine can drive. Implemented over LlamaForCausalLM (engine_llama.h).
class DecoderBackend {
 public:
  virtual ~DecoderBackend() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_positions() const = 0;  // the model's context window
  virtual torch::Device device() const = 0;
  // An empty cache for `rows` rows of at most `capacity` positions.
  virtual std::unique_ptr<DecodeCache> new_cache(int64_t rows, int64_t capacity) = 0;
  // ids, positions: int64 [B, T]. key_mask: bool [B, P + T], true where a key is a real token,
  // P = cache->length() (0 without a cache); a query attends to real keys at or before it.
  // With a cache, the T new keys and values are appended to it. Returns float32 logits
  // [B, n_logits, V] for the last n_logits of the T positions.
  virtual torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& positions,
                                const torch::Tensor& key_mask, DecodeCache* cache,
                                int64_t n_logits) = 0;
};

}  // namespace packbench::train
