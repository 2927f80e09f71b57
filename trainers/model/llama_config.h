// LLaMA model configuration read from and written to a Hugging Face config.json (no LibTorch here).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace packbench::train {

// rope_scaling of config.json. Supported rope_type values: "llama3" (LLaMA-3.1's frequency rule)
// and "linear" (positions divided by factor). Absent or "default" means no scaling.
struct RopeScaling {
  std::string rope_type = "llama3";
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;
  int64_t max_position_embeddings = 2048;
  int64_t head_dim_override = 0;  // config.json "head_dim" when present; 0: hidden / heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double initializer_range = 0.02;
  std::optional<RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;   // config.json "eos_token_id": one id or a list
  std::optional<int64_t> pad_token_id;
  std::string torch_dtype = "float32";  // "float32" | "bfloat16" | "float16"
  std::string hidden_act = "silu";

  int64_t head_dim() const;
  int64_t num_key_value_groups() const { return num_attention_heads / num_key_value_heads; }
  // Number of parameters as Hugging Face counts them (a tied head is counted once).
  int64_t num_parameters() const;

  // Throws packbench::Error naming `source` and the field when the values are inconsistent.
  void validate(const std::string& source) const;

  // config.json text for this configuration (model_type "llama", architectures, ...).
  nlohmann::json to_json() const;
  std::string to_json_string() const;  // pretty-printed to_json()
  // Parses a config.json object; `source` (usually the file path) names errors.
  static LlamaConfig from_json(const nlohmann::json& j, const std::string& source);
  // Reads a config.json file, or DIR/config.json when `path` is a folder.
  static LlamaConfig load(const std::string& path);
};

}  // namespace packbench::train
