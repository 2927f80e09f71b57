// Import of a GGUF LLaMA model into a Hugging Face checkpoint folder packbench and transformers load. No LibTorch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trainers/model/llama_config.h"

namespace packbench::train {

class GgufFile;

// Architectures (general.architecture) the import supports.
const std::vector<std::string>& gguf_supported_architectures();  // {"llama"}

// The LlamaForCausalLM configuration of a GGUF file's llama.* metadata, special token ids from
// tokenizer.ggml.*, tie_word_embeddings when the file has no output.weight, torch_dtype float32.
// Throws packbench::Error naming the file and key (or general.architecture when it is not llama).
LlamaConfig gguf_llama_config(const GgufFile& file);

// The Hugging Face name of a GGUF tensor (token_embd.weight -> model.embed_tokens.weight,
// blk.3.attn_q.weight -> model.layers.3.self_attn.q_proj.weight, ...); "" when it has none.
std::string gguf_to_hf_name(const std::string& gguf_name);

// llama.cpp's converter interleaves the two rotary halves of every head of the Q and K
// projections (row h*2d + 2i + j holds Hugging Face's row h*2d + j*d + i). Undoes it in place on a
// row-major [n_head * 2d, cols] matrix.
void unpermute_rotary_rows(float* w, int64_t rows, int64_t cols, int64_t n_head);

struct GgufImportResult {
  LlamaConfig config;
  std::map<std::string, int64_t> tensors_by_type;  // GGUF tensor type name -> count
  int64_t parameters = 0;                          // elements written
  uint64_t bytes_written = 0;                      // model.safetensors
  double dequantize_seconds = 0, write_seconds = 0;
};

// Writes OUT_DIR: config.json, model.safetensors (float32), tokenizer.json,
// tokenizer_config.json (with the file's chat template) and generation_config.json. Everything is
// written into a temporary sibling folder and renamed onto OUT_DIR (replacing it), so OUT_DIR is
// never half written. Known limit: all weights are held in memory as float32 while writing.
GgufImportResult import_gguf(const std::string& gguf_path, const std::string& out_dir);

}  // namespace packbench::train
