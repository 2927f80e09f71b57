// Hugging Face checkpoint folders for LlamaForCausalLM: config.json + safetensors weights (one
// file or shards) + generation_config.json + tokenizer files, loaded and saved by HF names.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "trainers/model/llama_model.h"

namespace packbench::train {

class SafetensorsCheckpoint;

// Builds the model of DIR/config.json with parameters of `dtype` on `device` and fills every
// parameter from DIR's safetensors by Hugging Face name. Missing or unexpected tensors and shape
// mismatches are a packbench::Error naming the folder and the tensors.
LlamaForCausalLM load_pretrained(const std::string& dir, torch::Dtype dtype = torch::kFloat,
                                 torch::Device device = torch::kCPU);

// Copies the checkpoint's tensors into `model` (converting dtype and device); same checks.
void load_weights(LlamaForCausalLMImpl& model, const SafetensorsCheckpoint& weights);

struct SaveOptions {
  torch::Dtype dtype = torch::kBFloat16;        // dtype of the saved weights (config torch_dtype)
  std::string tokenizer_dir;                    // copy tokenizer.json etc. from here ("" = none)
  uint64_t max_shard_bytes = 5000000000ull;     // Hugging Face's default max_shard_size "5GB"
};

// Writes DIR/config.json, model.safetensors (or shards + model.safetensors.index.json),
// generation_config.json and the tokenizer files. Everything is written into a temporary
// sibling folder first and renamed onto DIR (replacing an existing DIR), so DIR is never half
// written.
void save_pretrained(LlamaForCausalLMImpl& model, const std::string& dir, const SaveOptions& options = {});

// "float32" / "bfloat16" / "float16" (config.json torch_dtype names) <-> torch dtypes.
torch::Dtype dtype_from_name(const std::string& name);  // also accepts fp32, bf16, fp16
std::string dtype_config_name(torch::Dtype dtype);

}  // namespace packbench::train
