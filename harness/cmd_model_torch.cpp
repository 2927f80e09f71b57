// packbench 'model' subcommand group: inspect a checkpoint (info), dump its logits (logits),
// write a randomly initialised checkpoint from a config.json (init), and import a GGUF model (import).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "harness/commands.h"
#include "trainers/parallel/blas_kernels.h"
#include "trainers/model/gguf_import.h"
#include "trainers/model/llama_config.h"
#include "trainers/model/llama_model.h"
#include "trainers/model/pretrained.h"
#include "trainers/model/safetensors.h"

namespace packbench::cli {
namespace {
namespace fs = std::filesystem;
using train::LlamaConfig;

void set_threads(int threads) {
  at::set_num_threads(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency()));
}

// NumPy .npy (format 1.0) of a float32 C-order array.
std::string npy_float32(const torch::Tensor& t) {
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  shape += t.dim() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  torch::Tensor c = t.to(torch::kCPU, torch::kFloat).contiguous();
  out.append(static_cast<const char*>(c.data_ptr()), c.numel() * 4);
  return out;
}

std::vector<int64_t> parse_ids(const std::string& text, int64_t vocab) {
  std::vector<int64_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string piece = text.substr(start, end - start);
    const size_t i = ids.size();
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(piece, &used);
    } catch (...) {
      used = 0;
    }
    if (piece.empty() || used != piece.size()) throw Error(fmt::format("--ids: item {} ('{}') is not an integer", i, piece));
    if (v < 0 || v >= vocab) throw Error(fmt::format("--ids: item {} ({}) is outside the vocabulary [0, {})", i, v, vocab));
    ids.push_back(v);
    start = end + 1;
  }
  return ids;
}

void run_info(const std::string& dir) {
  LlamaConfig c = LlamaConfig::load(dir);
  train::SafetensorsCheckpoint weights(dir);
  fmt::print("checkpoint    {}\n", dir);
  fmt::print("architecture  LlamaForCausalLM: {} layers, hidden {}, intermediate {}, {} heads ({} key/value, head_dim {}), vocab {}\n",
             c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads, c.num_key_value_heads,
             c.head_dim(), c.vocab_size);
  std::string rope = fmt::format("theta {}", c.rope_theta);
  if (c.rope_scaling) {
    const auto& r = *c.rope_scaling;
    rope += fmt::format(", scaling {} (factor {}", r.rope_type, r.factor);
    if (r.rope_type == "llama3") {
      rope += fmt::format(", low_freq_factor {}, high_freq_factor {}, original_max_position_embeddings {}", r.low_freq_factor,
                          r.high_freq_factor, r.original_max_position_embeddings);
    }
    rope += ")";
  }
  fmt::print("rope          {}; max_position_embeddings {}\n", rope, c.max_position_embeddings);
  fmt::print("output head   {}\n", c.tie_word_embeddings ? "tied to the embeddings" : "untied (lm_head.weight)");
  int64_t stored = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> by_dtype;  // tensors, elements
  for (const auto& f : weights.files()) {
    for (const auto& v : f->tensors()) {
      stored += v.numel();
      auto& e = by_dtype[train::st_dtype_name(v.dtype)];
      e.first += 1;
      e.second += v.numel();
    }
  }
  fmt::print("parameters    {} ({:.3f} B); stored in files: {}\n", with_commas(c.num_parameters()), c.num_parameters() / 1e9,
             with_commas(stored));
  std::string dt;
  for (const auto& [name, e] : by_dtype) dt += fmt::format("{}{}: {} tensors, {} elements", dt.empty() ? "" : "; ", name, e.first, with_commas(e.second));
  fmt::print("dtypes        {} (config torch_dtype {})\n", dt, c.torch_dtype);
  uint64_t total = 0;
  for (const auto& f : weights.files()) {
    fmt::print("file          {}  {} bytes\n", fs::path(f->path()).filename().string(), with_commas(f->file_size()));
    total += f->file_size();
  }
  fmt::print("total         {} bytes in {} file(s)\n", with_commas(total), weights.files().size());
  std::string eos;
  for (int64_t e : c.eos_token_ids) eos += (eos.empty() ? "" : ",") + std::to_string(e);
  fmt::print("special ids   bos {}, eos {}\n", c.bos_token_id ? std::to_string(*c.bos_token_id) : "none", eos.empty() ? "none" : eos);
  fmt::print("compute       {}; BLAS kernels {}\n", torch::cuda::is_available() ? "CUDA" : "CPU",
             train::blas_kernels_description());
}

void run_logits(const std::string& dir, const std::string& ids_text, const std::string& dtype, const std::string& device,
                const std::string& out, int threads) {
  set_threads(threads);
  LlamaConfig c = LlamaConfig::load(dir);
  std::vector<int64_t> ids = parse_ids(ids_text, c.vocab_size);
  const torch::Device dev(device);
  auto model = train::load_pretrained(dir, train::dtype_from_name(dtype), dev);
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t T = static_cast<int64_t>(ids.size());
  torch::Tensor input = torch::tensor(ids, torch::kLong).view({1, T});
  train::AttentionInputs attn;
  attn.position_ids = torch::arange(T, torch::kLong).view({1, T});
  torch::Tensor logits = model->forward(input, attn)[0];  // [T, vocab] float32
  write_file_atomic(out, npy_float32(logits));
  fmt::print("wrote {}: float32 [{}, {}] logits of {} tokens ({} weights on {})\n", out, T, c.vocab_size, T, dtype, device);
}

void run_init(const std::string& config_path, const std::string& out, uint64_t seed, const std::string& tokenizer,
              const std::string& dtype, double max_shard_mb) {
  LlamaConfig c = LlamaConfig::load(config_path);
  train::LlamaForCausalLM model(c, torch::TensorOptions().dtype(torch::kFloat), /*init=*/false);
  model->init_weights(seed);
  train::SaveOptions options;
  options.dtype = train::dtype_from_name(dtype);
  options.tokenizer_dir = tokenizer;
  options.max_shard_bytes = static_cast<uint64_t>(max_shard_mb * 1e6);
  train::save_pretrained(*model, out, options);
  fmt::print("wrote {}: {} parameters, seed {}, {}\n", out, with_commas(c.num_parameters()), seed, train::dtype_config_name(options.dtype));
}

void run_import(const std::string& gguf, const std::string& out) {
  const auto t0 = std::chrono::steady_clock::now();
  train::GgufImportResult r = train::import_gguf(gguf, out);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const LlamaConfig& c = r.config;
  std::string types;
  for (const auto& [name, n] : r.tensors_by_type) types += fmt::format("{}{} {}", types.empty() ? "" : ", ", n, name);
  fmt::print("imported {} -> {}\n", gguf, out);
  fmt::print("  LlamaForCausalLM: {} layers, hidden {}, intermediate {}, {} heads ({} key/value), vocab {}, {} head\n",
             c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads, c.num_key_value_heads,
             c.vocab_size, c.tie_word_embeddings ? "tied" : "untied");
  fmt::print("  tensors: {} (GGUF types); {} parameters written as float32, {} bytes\n", types, with_commas(r.parameters),
             with_commas(static_cast<int64_t>(r.bytes_written)));
  fmt::print("  time: {:.2f} s (dequantize {:.2f} s, write {:.2f} s)\n", total, r.dequantize_seconds, r.write_seconds);
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto* cmd = app.add_subcommand("model", "inspect a checkpoint (info, logits) or create one (init, import)");
  cmd->require_subcommand(1);

  auto* info = cmd->add_subcommand("info", "architecture, parameter count, dtypes and file sizes of a checkpoint");
  auto info_dir = std::make_shared<std::string>();
  info->add_option("DIR", *info_dir, "checkpoint folder (config.json + safetensors)")->required();
  info->callback([info_dir] { run_info(*info_dir); });

  auto* logits = cmd->add_subcommand("logits", "write the logits of one token sequence as a float32 [T, vocab] .npy");
  struct LogitsArgs {
    std::string dir, ids, dtype = "fp32", device = "cpu", out;
    int threads = 0;
  };
  auto la = std::make_shared<LogitsArgs>();
  logits->add_option("--checkpoint", la->dir, "checkpoint folder")->required();
  logits->add_option("--ids", la->ids, "comma-separated token ids, e.g. 1,2,3")->required();
  logits->add_option("--dtype", la->dtype, "weights dtype: fp32 | bf16 | fp16")->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  logits->add_option("--device", la->device, "cpu | cuda | cuda:N");
  logits->add_option("--out", la->out, "output .npy file")->required();
  logits->add_option("--threads", la->threads, "intra-op threads (0: all cores)");
  logits->callback([la] { run_logits(la->dir, la->ids, la->dtype, la->device, la->out, la->threads); });

  auto* init = cmd->add_subcommand("init", "write a randomly initialised checkpoint (Hugging Face's initialisation)");
  struct InitArgs {
    std::string config, out, tokenizer, dtype = "fp32";
    uint64_t seed = 0;
    double max_shard_mb = 5000;
  };
  auto ia = std::make_shared<InitArgs>();
  init->add_option("--config", ia->config, "config.json of the model")->required();
  init->add_option("--out", ia->out, "checkpoint folder to write")->required();
  init->add_option("--seed", ia->seed, "initialisation seed");
  init->add_option("--tokenizer", ia->tokenizer, "folder with tokenizer.json / tokenizer_config.json to copy");
  init->add_option("--dtype", ia->dtype, "saved dtype: fp32 | bf16 | fp16")->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  init->add_option("--max-shard-mb", ia->max_shard_mb, "largest safetensors shard in MB");
  init->callback([ia] { run_init(ia->config, ia->out, ia->seed, ia->tokenizer, ia->dtype, ia->max_shard_mb); });

  auto* imp = cmd->add_subcommand(
      "import",
      "convert a GGUF model (llama.cpp) into a Hugging Face folder: config.json, float32 model.safetensors, "
      "tokenizer.json, tokenizer_config.json (with the chat template), generation_config.json. Architectures: llama. "
      "Tensor types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K. Tokenizers: byte-level BPE (gpt2)");
  auto gguf_file = std::make_shared<std::string>();
  auto gguf_out = std::make_shared<std::string>();
  imp->add_option("--gguf", *gguf_file, "the .gguf file")->required();
  imp->add_option("--out", *gguf_out, "checkpoint folder to write (replaced atomically)")->required();
  imp->callback([gguf_file, gguf_out] { run_import(*gguf_file, *gguf_out); });
}

}  // namespace packbench::cli
