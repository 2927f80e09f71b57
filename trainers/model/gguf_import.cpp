// GGUF LLaMA -> Hugging Face folder: config from llama.* metadata, dequantized float32 weights under HF names, tokenizer files.
#include "trainers/model/gguf_import.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <regex>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/replace_folder.h"
#include "core/error.h"
#include "trainers/model/gguf.h"
#include "trainers/model/gguf_dequant.h"
#include "trainers/model/gguf_tokenizer.h"
#include "trainers/model/safetensors.h"

namespace packbench::train {
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

std::string join(const std::vector<std::string>& v) {
  std::string o;
  for (const auto& s : v) o += (o.empty() ? "" : ", ") + s;
  return o;
}

}  // namespace

const std::vector<std::string>& gguf_supported_architectures() {
  static const std::vector<std::string> a = {"llama"};
  return a;
}

std::string gguf_to_hf_name(const std::string& n) {
  if (n == "token_embd.weight") return "model.embed_tokens.weight";
  if (n == "output_norm.weight") return "model.norm.weight";
  if (n == "output.weight") return "lm_head.weight";
  static const std::regex block(R"(blk\.(\d+)\.([a-z_]+)\.weight)");
  std::smatch m;
  if (!std::regex_match(n, m, block)) return "";
  static const std::map<std::string, std::string> per_layer = {
      {"attn_norm", "input_layernorm"},        {"ffn_norm", "post_attention_layernorm"},
      {"attn_q", "self_attn.q_proj"},          {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},          {"attn_output", "self_attn.o_proj"},
      {"ffn_gate", "mlp.gate_proj"},           {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  auto it = per_layer.find(m[2].str());
  if (it == per_layer.end()) return "";
  return "model.layers." + m[1].str() + "." + it->second + ".weight";
}

void unpermute_rotary_rows(float* w, int64_t rows, int64_t cols, int64_t n_head) {
  if (n_head <= 0 || rows % (2 * n_head) != 0)
    throw Error(fmt::format("cannot undo the rotary row order: {} rows are not {} heads of an even size", rows, n_head));
  const int64_t d = rows / n_head / 2;
  std::vector<float> head(static_cast<size_t>(2 * d * cols));
  for (int64_t h = 0; h < n_head; ++h) {
    float* base = w + h * 2 * d * cols;
    std::memcpy(head.data(), base, head.size() * sizeof(float));
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(base + (j * d + i) * cols, head.data() + (2 * i + j) * cols, static_cast<size_t>(cols) * sizeof(float));
  }
}

LlamaConfig gguf_llama_config(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  const auto& supported = gguf_supported_architectures();
  if (std::find(supported.begin(), supported.end(), arch) == supported.end())
    throw Error(f.path() + ": general.architecture is '" + arch + "'; packbench imports only: " + join(supported));
  const std::string p = arch + ".";
  LlamaConfig c;
  c.hidden_size = f.get_int(p + "embedding_length");
  c.intermediate_size = f.get_int(p + "feed_forward_length");
  c.num_hidden_layers = f.get_int(p + "block_count");
  c.num_attention_heads = f.get_int(p + "attention.head_count");
  c.num_key_value_heads = f.find(p + "attention.head_count_kv") ? f.get_int(p + "attention.head_count_kv") : c.num_attention_heads;
  c.max_position_embeddings = f.get_int(p + "context_length");
  c.rms_norm_eps = f.get_float(p + "attention.layer_norm_rms_epsilon");
  c.rope_theta = f.find(p + "rope.freq_base") ? f.get_float(p + "rope.freq_base") : 10000.0;
  if (c.num_attention_heads > 0 && f.find(p + "rope.dimension_count")) {
    const int64_t rot = f.get_int(p + "rope.dimension_count");
    if (rot != c.hidden_size / c.num_attention_heads || c.hidden_size % c.num_attention_heads != 0) c.head_dim_override = rot;
  }
  if (f.find(p + "attention.key_length") && f.get_int(p + "attention.key_length") != c.head_dim())
    throw Error(f.path() + ": metadata key '" + p + "attention.key_length': " + std::to_string(f.get_int(p + "attention.key_length")) +
                " differs from the rotary dimension " + std::to_string(c.head_dim()) + " (not a LLaMA layout)");
  if (f.find(p + "rope.scaling.type")) {
    const std::string type = f.get_string(p + "rope.scaling.type");
    if (type == "linear") {
      c.rope_scaling = RopeScaling{};
      c.rope_scaling->rope_type = "linear";
      c.rope_scaling->factor = f.get_float(p + "rope.scaling.factor");
    } else if (type != "none") {
      throw Error(f.path() + ": metadata key '" + p + "rope.scaling.type': '" + type + "' is not supported (none, linear)");
    }
  }
  if (f.find_tensor("rope_freqs.weight"))
    throw Error(f.path() + ": tensor 'rope_freqs.weight' (LLaMA-3.1 rotary frequency factors) is not supported by the import");
  if (f.find(p + "vocab_size")) {
    c.vocab_size = f.get_int(p + "vocab_size");
  } else {
    c.vocab_size = static_cast<int64_t>(f.at("tokenizer.ggml.tokens").items.size());
  }
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  if (f.find("tokenizer.ggml.bos_token_id")) c.bos_token_id = f.get_int("tokenizer.ggml.bos_token_id");
  if (f.find("tokenizer.ggml.eos_token_id")) c.eos_token_ids = {f.get_int("tokenizer.ggml.eos_token_id")};
  if (f.find("tokenizer.ggml.padding_token_id")) c.pad_token_id = f.get_int("tokenizer.ggml.padding_token_id");
  c.torch_dtype = "float32";
  c.validate(f.path());
  return c;
}

GgufImportResult import_gguf(const std::string& gguf_path, const std::string& out_dir) {
  GgufFile f(gguf_path);
  GgufImportResult r;
  r.config = gguf_llama_config(f);
  const LlamaConfig& c = r.config;
  const GgufTokenizerFiles tok = gguf_tokenizer_files(f, c.max_position_embeddings);

  // Expected HF shapes, to name a tensor that does not fit the configuration.
  const int64_t hd = c.head_dim();
  std::map<std::string, std::vector<int64_t>> want = {{"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}},
                                                      {"model.norm.weight", {c.hidden_size}}};
  if (!c.tie_word_embeddings) want["lm_head.weight"] = {c.vocab_size, c.hidden_size};
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string b = "model.layers." + std::to_string(l) + ".";
    want[b + "input_layernorm.weight"] = {c.hidden_size};
    want[b + "post_attention_layernorm.weight"] = {c.hidden_size};
    want[b + "self_attn.q_proj.weight"] = {c.num_attention_heads * hd, c.hidden_size};
    want[b + "self_attn.k_proj.weight"] = {c.num_key_value_heads * hd, c.hidden_size};
    want[b + "self_attn.v_proj.weight"] = {c.num_key_value_heads * hd, c.hidden_size};
    want[b + "self_attn.o_proj.weight"] = {c.hidden_size, c.num_attention_heads * hd};
    want[b + "mlp.gate_proj.weight"] = {c.intermediate_size, c.hidden_size};
    want[b + "mlp.up_proj.weight"] = {c.intermediate_size, c.hidden_size};
    want[b + "mlp.down_proj.weight"] = {c.hidden_size, c.intermediate_size};
  }

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<float>> data;
  std::vector<StTensorView> views;
  data.reserve(f.tensors().size());
  for (const GgufTensorInfo& t : f.tensors()) {
    const std::string hf = gguf_to_hf_name(t.name);
    if (hf.empty()) throw Error(gguf_path + ": tensor '" + t.name + "' has no place in LlamaForCausalLM");
    auto w = want.find(hf);
    if (w == want.end()) throw Error(gguf_path + ": tensor '" + t.name + "' (" + hf + ") is not part of a model with this configuration");
    const std::vector<int64_t> shape = t.shape();
    if (shape != w->second)
      throw Error(gguf_path + ": tensor '" + t.name + "' has shape " + shape_text(shape) + ", the metadata implies " +
                  shape_text(w->second) + " for " + hf);
    want.erase(w);
    data.push_back(dequantize_tensor(f, t));
    if (t.name.find(".attn_q.") != std::string::npos)
      unpermute_rotary_rows(data.back().data(), shape[0], shape[1], c.num_attention_heads);
    if (t.name.find(".attn_k.") != std::string::npos)
      unpermute_rotary_rows(data.back().data(), shape[0], shape[1], c.num_key_value_heads);
    StTensorView v;
    v.name = hf;
    v.dtype = StDtype::kF32;
    v.shape = shape;
    v.data = reinterpret_cast<const uint8_t*>(data.back().data());
    v.nbytes = data.back().size() * sizeof(float);
    views.push_back(v);
    r.tensors_by_type[ggml_type_name(t.type)] += 1;
    r.parameters += t.numel();
  }
  if (!want.empty()) {
    std::vector<std::string> missing;
    for (const auto& [name, s] : want) missing.push_back(name);
    if (missing.size() > 6) missing.resize(6), missing.push_back("...");
    throw Error(gguf_path + ": " + std::to_string(want.size()) + " tensor(s) missing: " + join(missing));
  }
  // Hugging Face order: embeddings, layers by index, final norm, head.
  auto rank = [](const std::string& n) -> std::pair<int64_t, std::string> {
    if (n == "model.embed_tokens.weight") return {-1, n};
    if (n == "model.norm.weight") return {1LL << 40, n};
    if (n == "lm_head.weight") return {(1LL << 40) + 1, n};
    return {std::stoll(n.substr(13)), n};  // "model.layers.<i>."
  };
  std::sort(views.begin(), views.end(), [&](const StTensorView& a, const StTensorView& b) { return rank(a.name) < rank(b.name); });
  r.dequantize_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  const fs::path target = fs::absolute(fs::path(out_dir)).lexically_normal();
  const fs::path tmp = target.string() + ".tmp." + std::to_string(getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw Error("cannot create " + tmp.string() + ": " + ec.message());
  try {
    write_file_atomic((tmp / "config.json").string(), c.to_json_string());
    nlohmann::ordered_json gen;
    gen["_from_model_config"] = true;
    if (c.bos_token_id) gen["bos_token_id"] = *c.bos_token_id;
    if (!c.eos_token_ids.empty()) gen["eos_token_id"] = c.eos_token_ids[0];
    if (c.pad_token_id) gen["pad_token_id"] = *c.pad_token_id;
    write_file_atomic((tmp / "generation_config.json").string(), gen.dump(2) + "\n");
    write_file_atomic((tmp / "tokenizer.json").string(), tok.tokenizer_json);
    write_file_atomic((tmp / "tokenizer_config.json").string(), tok.tokenizer_config_json);
    for (const std::string& name : write_safetensors_checkpoint(tmp.string(), views, /*max_shard_bytes=*/5000000000ull))
      r.bytes_written += fs::file_size(tmp / name);
    fsync_tree(tmp.string());
    replace_folder(tmp.string(), target.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  r.write_seconds = seconds_since(t0);
  return r;
}

}  // namespace packbench::train
