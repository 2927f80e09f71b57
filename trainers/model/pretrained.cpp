// Hugging Face checkpoint folders for LlamaForCausalLM: load and save by HF parameter names.
#include "trainers/model/pretrained.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/replace_folder.h"
#include "core/error.h"
#include "trainers/model/safetensors.h"
#include "trainers/model/safetensors_torch.h"

namespace packbench::train {
namespace fs = std::filesystem;

namespace {

std::string join_some(const std::vector<std::string>& names, size_t most = 6) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < most; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > most) out += fmt::format(" and {} more", names.size() - most);
  return out;
}

// Tensors Hugging Face checkpoints may carry that are not parameters.
bool ignorable(const std::string& name) {
  const std::string suffix = "rotary_emb.inv_freq";
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

torch::Dtype dtype_from_name(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return torch::kFloat;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "half") return torch::kHalf;
  throw Error("unknown dtype '" + name + "' (expected fp32, bf16 or fp16)");
}

std::string dtype_config_name(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kHalf: return "float16";
    default: throw Error("dtype " + std::string(c10::toString(dtype)) + " is not a checkpoint dtype");
  }
}

void load_weights(LlamaForCausalLMImpl& model, const SafetensorsCheckpoint& weights) {
  auto params = model.hf_named_parameters();
  std::set<std::string> wanted;
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, p] : params) {
    wanted.insert(name);
    if (!weights.find(name)) missing.push_back(name);
  }
  for (const auto& name : weights.names()) {
    if (wanted.count(name) || ignorable(name)) continue;
    // A tied model's file may still carry the head; Hugging Face ignores it too.
    if (name == "lm_head.weight" && model.config().tie_word_embeddings) continue;
    unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg = weights.dir() + ": checkpoint does not match config.json:";
    if (!missing.empty()) msg += fmt::format(" missing {} tensor(s): {};", missing.size(), join_some(missing));
    if (!unexpected.empty()) msg += fmt::format(" unexpected {} tensor(s): {};", unexpected.size(), join_some(unexpected));
    throw Error(msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : params) {
    const StTensorView& v = weights.at(name);
    std::vector<int64_t> want(p.sizes().begin(), p.sizes().end());
    if (v.shape != want) {
      auto str = [](const std::vector<int64_t>& s) {
        std::string o = "[";
        for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
        return o + "]";
      };
      throw Error(weights.dir() + ": tensor '" + name + "' has shape " + str(v.shape) + ", config.json implies " + str(want));
    }
    if (v.dtype != StDtype::kF32 && v.dtype != StDtype::kBF16 && v.dtype != StDtype::kF16 && v.dtype != StDtype::kF64) {
      throw Error(weights.dir() + ": tensor '" + name + "' has dtype " + st_dtype_name(v.dtype) + ", expected a float type");
    }
    p.copy_(st_to_tensor(v));
  }
}

LlamaForCausalLM load_pretrained(const std::string& dir, torch::Dtype dtype, torch::Device device) {
  LlamaConfig config = LlamaConfig::load(dir);
  SafetensorsCheckpoint weights(dir);
  LlamaForCausalLM model(config, torch::TensorOptions().dtype(dtype).device(device), /*init=*/false);
  load_weights(*model, weights);
  return model;
}

void save_pretrained(LlamaForCausalLMImpl& model, const std::string& dir, const SaveOptions& options) {
  const fs::path target = fs::absolute(fs::path(dir)).lexically_normal();
  const fs::path tmp = target.string() + ".tmp." + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw Error("cannot create " + tmp.string() + ": " + ec.message());
  try {
    LlamaConfig config = model.config();
    config.torch_dtype = dtype_config_name(options.dtype);
    write_file_atomic((tmp / "config.json").string(), config.to_json_string());

    nlohmann::ordered_json gen;
    gen["_from_model_config"] = true;
    if (config.bos_token_id) gen["bos_token_id"] = *config.bos_token_id;
    if (config.eos_token_ids.size() == 1) gen["eos_token_id"] = config.eos_token_ids[0];
    if (config.eos_token_ids.size() > 1) gen["eos_token_id"] = config.eos_token_ids;
    if (config.pad_token_id) gen["pad_token_id"] = *config.pad_token_id;
    write_file_atomic((tmp / "generation_config.json").string(), gen.dump(2) + "\n");

    std::vector<torch::Tensor> keep;  // CPU copies the views point into
    std::vector<StTensorView> views;
    {
      torch::NoGradGuard no_grad;
      for (auto& [name, p] : model.hf_named_parameters()) {
        keep.push_back(p.detach().to(torch::kCPU, options.dtype).contiguous());
        views.push_back(st_view_of(name, keep.back()));
      }
    }
    write_safetensors_checkpoint(tmp.string(), views, options.max_shard_bytes);
    keep.clear();

    if (!options.tokenizer_dir.empty()) {
      bool any = false;
      for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
        const fs::path src = fs::path(options.tokenizer_dir) / f;
        if (!fs::exists(src)) continue;
        write_file_atomic((tmp / f).string(), read_file(src.string()));
        any = true;
      }
      if (!any) throw Error(options.tokenizer_dir + ": no tokenizer.json or tokenizer_config.json to copy");
    }

    // Swap the finished folder into place.
    replace_folder(tmp.string(), target.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace packbench::train
