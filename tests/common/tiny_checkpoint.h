// Tiny random LLaMA checkpoint folders (config, safetensors, tokenizer) for tests that run packbench on a model.
#pragma once

#include <torch/torch.h>

#include <string>

#include "tests/common/llama_shape.h"
#include "tests/common/test_paths.h"
#include "trainers/model/llama_model.h"
#include "trainers/model/pretrained.h"

namespace packbench::testing {

// One decoder layer, hidden 16, two query heads over one key/value head; vocabulary sized for the
// tiny test tokenizer (its 268 tokens and 4 added tokens).
inline train::LlamaConfig tiny_llama_config() {
  return llama_shape(272, 16, 32, 1, 2, 1, 4096);
}

// The same shape over LLaMA-3's vocabulary and special tokens (pair it with the LLaMA-3 tokenizer).
inline train::LlamaConfig tiny_llama3_config() {
  train::LlamaConfig c = tiny_llama_config();
  c.vocab_size = 128256;
  c.rope_theta = 500000.0;
  c.bos_token_id = 128000;
  c.eos_token_ids = {128001, 128009};
  return c;
}

// Saves a float32 model of config `c` initialised from `seed`, with the tokenizer files of
// `tokenizer_dir` ("" = the tiny test tokenizer), into `dir`; returns `dir`.
inline std::string save_tiny_checkpoint(const std::string& dir, const train::LlamaConfig& c = tiny_llama_config(),
                                        int seed = 5, const std::string& tokenizer_dir = "") {
  train::LlamaForCausalLM model(c);
  model->init_weights(seed);
  train::SaveOptions so;
  so.dtype = torch::kFloat;
  so.tokenizer_dir = tokenizer_dir.empty() ? fixtures_dir() + "/tokenizer/tiny" : tokenizer_dir;
  train::save_pretrained(*model, dir, so);
  return dir;
}

}  // namespace packbench::testing
