// LLaMA shapes for tests: a config.json's sizes in one call (no LibTorch).
#pragma once

#include <cstdint>

#include "trainers/model/llama_config.h"

namespace packbench::testing {

// vocab, hidden, intermediate, layers, query heads, key/value heads, max positions; the other
// fields keep LlamaConfig's defaults, except that no rope_scaling is set.
inline train::LlamaConfig llama_shape(int64_t vocab, int64_t hidden, int64_t intermediate, int64_t layers,
                                      int64_t heads, int64_t kv_heads, int64_t max_positions) {
  train::LlamaConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = intermediate;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.max_position_embeddings = max_positions;
  c.rope_scaling.reset();
  return c;
}

}  // namespace packbench::testing
