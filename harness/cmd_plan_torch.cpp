// packbench 'plan': per-GPU and per-node memory of each study model under each ZeRO setting, and whether it fits.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/format.h"
#include "harness/commands.h"
#include "harness/study_config.h"
#include "trainers/model/llama_config.h"
#include "trainers/parallel/deepspeed_config.h"
#include "trainers/parallel/memory_plan.h"

namespace packbench::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using train::LlamaConfig;
using train::MemoryPlan;
using train::MemoryPlanInput;
using train::ShardingSettings;

struct PlanOptions {
  std::string config;
  std::string gpu_memory = "80GB";
  std::string cpu_memory = "1TiB";
  bool json = false;
};

// LLaMA-3 shapes from Meta's config.json files on the Hugging Face Hub, for planning on a
// machine without the model folders. Returns the canonical name and the configuration.
std::optional<std::pair<std::string, LlamaConfig>> builtin_shape(const std::string& model_name) {
  std::string key;
  for (char ch : model_name) key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (key.rfind("meta-", 0) == 0) key = key.substr(5);
  for (const char* suffix : {"-instruct", "_instruct", " instruct"}) {
    const std::string s(suffix);
    if (key.size() > s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0) key.resize(key.size() - s.size());
  }
  key.erase(std::remove_if(key.begin(), key.end(), [](char ch) { return ch == '-' || ch == '_' || ch == ' '; }),
            key.end());
  LlamaConfig c;
  c.vocab_size = 128256;
  c.num_key_value_heads = 8;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500000.0;
  c.bos_token_id = 128000;
  c.eos_token_ids = {128001};
  c.torch_dtype = "bfloat16";
  std::string name;
  if (key == "llama38b") {
    name = "LLaMA-3-8B";
    c.hidden_size = 4096, c.intermediate_size = 14336, c.num_hidden_layers = 32, c.num_attention_heads = 32;
    c.max_position_embeddings = 8192;
  } else if (key == "llama370b") {
    name = "LLaMA-3-70B";
    c.hidden_size = 8192, c.intermediate_size = 28672, c.num_hidden_layers = 80, c.num_attention_heads = 64;
    c.max_position_embeddings = 8192;
  } else if (key == "llama3.21b" || key == "llama3.23b") {
    const bool one = key == "llama3.21b";
    name = one ? "LLaMA-3.2-1B" : "LLaMA-3.2-3B";
    c.hidden_size = one ? 2048 : 3072;
    c.intermediate_size = 8192;
    c.num_hidden_layers = one ? 16 : 28;
    c.num_attention_heads = one ? 32 : 24;
    c.head_dim_override = one ? 64 : 128;
    c.max_position_embeddings = 131072;
    c.tie_word_embeddings = true;
    train::RopeScaling r;
    r.rope_type = "llama3";
    r.factor = 32.0;
    r.low_freq_factor = 1.0;
    r.high_freq_factor = 4.0;
    r.original_max_position_embeddings = 8192;
    c.rope_scaling = r;
  } else {
    return std::nullopt;
  }
  c.validate("built-in " + name);
  return std::make_pair(name, c);
}

// Typed reads of the merged training settings; errors name the config file and the key.
struct TrainView {
  json t;
  std::string where;
  int64_t get_int(const char* key, int64_t def) const {
    if (!t.contains(key) || t[key].is_null()) return def;
    if (!t[key].is_number_integer() || t[key].get<int64_t>() < 1) {
      throw Error(where + "." + key + ": expected a positive integer, got " + t[key].dump());
    }
    return t[key].get<int64_t>();
  }
  double get_double(const char* key, double def) const {
    if (!t.contains(key) || t[key].is_null()) return def;
    if (!t[key].is_number()) throw Error(where + "." + key + ": expected a number, got " + t[key].dump());
    return t[key].get<double>();
  }
  std::optional<bool> get_bool(const char* key) const {
    if (!t.contains(key) || t[key].is_null()) return std::nullopt;
    if (!t[key].is_boolean()) throw Error(where + "." + key + ": expected true or false, got " + t[key].dump());
    return t[key].get<bool>();
  }
  std::optional<std::string> get_string(const char* key) const {
    if (!t.contains(key) || t[key].is_null()) return std::nullopt;
    if (!t[key].is_string()) throw Error(where + "." + key + ": expected a string, got " + t[key].dump());
    return t[key].get<std::string>();
  }
};

struct Row {
  ShardingSettings sharding;
  bool configured = false;
  MemoryPlan with_gc, without_gc;
  train::FitVerdict fit_gc, fit_no_gc;
};

json verdict_json(const MemoryPlan& p, const train::FitVerdict& v) {
  json j = p.to_json();
  j["gpu_needed_bytes"] = v.gpu_needed;
  j["cpu_needed_bytes_per_node"] = v.cpu_needed_per_node;
  j["gpu_fits"] = v.gpu_fits;
  j["cpu_fits"] = v.cpu_fits;
  j["fits"] = v.fits();
  return j;
}

std::string gib(int64_t b) { return train::format_gib(b); }

// "zero3", "zero3 offload opt+params": short enough for the table's first column.
std::string short_label(const ShardingSettings& s) {
  std::string l = s.sharding;
  const bool o = s.offload_optimizer == "cpu", p = s.offload_params == "cpu";
  if (o || p) l += std::string(" offload ") + (o ? "opt" : "") + (o && p ? "+" : "") + (p ? "params" : "");
  return l;
}

void run_plan(const PlanOptions& o) {
  train::MemoryLimits limits;
  limits.gpu_bytes = train::parse_memory_size(o.gpu_memory, "--gpu-memory");
  limits.cpu_bytes_per_node = train::parse_memory_size(o.cpu_memory, "--cpu-memory");
  const StudyConfig c = load_study_config(o.config);
  const fs::path config_dir = o.config.empty() ? fs::current_path() : fs::absolute(o.config).parent_path();

  json doc = {{"config", c.source},
              {"gpu_memory_bytes", limits.gpu_bytes},
              {"cpu_memory_bytes_per_node", limits.cpu_bytes_per_node},
              {"headroom",
               {{"gpu_fixed_bytes", train::kGpuHeadroomFixed},
                {"cpu_fixed_bytes_per_node", train::kCpuHeadroomFixed},
                {"fraction", train::kHeadroomFraction}}},
              {"models", json::array()}};
  std::string text;
  text += fmt::format("packbench plan: {} (limits {} GiB per GPU, {} GiB host memory per node; 1 GB = 1 GiB = 2^30 bytes)\n",
                      c.source, gib(limits.gpu_bytes), gib(limits.cpu_bytes_per_node));
  text += fmt::format("headroom: {} GiB + {:.0f}% per GPU (CUDA context, allocator), {} GiB + {:.0f}% per node (OS, processes)\n",
                      gib(train::kGpuHeadroomFixed), 100 * train::kHeadroomFraction, gib(train::kCpuHeadroomFixed),
                      100 * train::kHeadroomFraction);

  const bool slurm = c.executor.value("type", "local") == "slurm";
  for (size_t mi = 0; mi < c.models.size(); ++mi) {
    const ModelSpec& m = c.models[mi];
    const std::string where = c.source + ".models[" + std::to_string(mi) + "]";
    // World size and ranks per node.
    int64_t nodes = 1, per_node = m.nproc;
    if (slurm && c.executor.contains("slurm")) {
      const json& s = c.executor["slurm"];
      const int64_t n = s.value("nodes", 1), g = s.value("gpus_per_node", 0);
      if (g > 0) nodes = n, per_node = g;
    }
    const int64_t world = nodes * per_node;
    // Model shape.
    LlamaConfig shape;
    std::string shape_source;
    bool builtin = false;
    const fs::path cfg_json = m.path.empty() ? fs::path() : fs::path(m.path) / "config.json";
    if (!m.path.empty() && fs::exists(m.path)) {
      shape = LlamaConfig::load(m.path);
      shape_source = cfg_json.string();
    } else if (!m.init.empty()) {
      json j = m.init;
      if (!j.contains("vocab_size")) j["vocab_size"] = c.tokenizer_vocab;
      shape = LlamaConfig::from_json(j, where + ".init");
      shape_source = where + ".init (vocab " + std::to_string(shape.vocab_size) + ")";
    } else if (auto b = builtin_shape(m.name)) {
      shape = b->second;
      builtin = true;
      shape_source = "built-in " + b->first + " shape (" + m.path + " not found)";
    } else {
      throw Error(where + ": model '" + m.name + "': no config.json at " + cfg_json.string() +
                  " and no built-in shape for this name (built-in: LLaMA-3-8B, LLaMA-3-70B, LLaMA-3.2-1B, LLaMA-3.2-3B)");
    }
    // Training settings: the study's train block with the model's overrides on top.
    TrainView tv{c.train, where + ".train"};
    for (auto it = m.train.begin(); it != m.train.end(); ++it) tv.t[it.key()] = it.value();
    const int64_t micro = tv.get_int("per_device_train_batch_size", 8);
    const int64_t cutoff = tv.get_int("cutoff_len", 4096);
    const int64_t accum = tv.get_int("gradient_accumulation_steps", 1);
    const int64_t bucket_mb = tv.get_int("ddp_bucket_size_mb", 25);
    const bool bf16 = tv.get_bool("bf16").value_or(false);
    const bool prefetch = tv.get_bool("zero_prefetch").value_or(true);  // the trainer's default
    bool gc = true;
    std::string gc_why = "not set: LLaMA-Factory's default, which the paper ran with";
    if (auto g = tv.get_bool("gradient_checkpointing")) {
      gc = *g, gc_why = "gradient_checkpointing";
    } else if (auto d = tv.get_bool("disable_gradient_checkpointing")) {
      gc = !*d, gc_why = "disable_gradient_checkpointing";
    }
    // The configured sharding.
    ShardingSettings configured;
    std::string configured_from = "default: plain data parallel";
    const auto ds = tv.get_string("deepspeed");
    const bool has_flat = tv.t.contains("sharding") || tv.t.contains("offload_optimizer") || tv.t.contains("offload_params");
    if (ds && has_flat) {
      throw Error(where + ".train: give either 'deepspeed' or 'sharding'/'offload_optimizer'/'offload_params', not both");
    }
    if (ds) {
      const fs::path p = fs::path(*ds).is_absolute() ? fs::path(*ds) : config_dir / *ds;
      train::DeepSpeedContext ctx;
      ctx.per_device_train_batch_size = static_cast<int>(micro);
      ctx.gradient_accumulation_steps = static_cast<int>(accum);
      ctx.max_grad_norm = tv.get_double("max_grad_norm", 1.0);
      ctx.bf16 = bf16;
      ctx.world_size = static_cast<int>(world);
      configured = train::read_deepspeed_config(p.lexically_normal().string(), ctx);
      configured_from = "deepspeed: " + *ds;
    } else if (has_flat) {
      configured.sharding = tv.get_string("sharding").value_or("none");
      configured.offload_optimizer = tv.get_string("offload_optimizer").value_or("none");
      configured.offload_params = tv.get_string("offload_params").value_or("none");
      train::check_sharding(configured, where + ".train");
      configured_from = "train.sharding";
    }
    // The rows: each stage without offload, plus the configured setting when it offloads.
    std::vector<ShardingSettings> settings;
    for (const char* z : {"none", "zero1", "zero2", "zero3"}) {
      ShardingSettings s;
      s.sharding = z;
      settings.push_back(s);
    }
    if (configured.offload_optimizer != "none" || configured.offload_params != "none") settings.push_back(configured);
    std::vector<Row> rows;
    for (const auto& s : settings) {
      Row r;
      r.sharding = s;
      r.sharding.ignored_fields.clear();
      r.configured = s.sharding == configured.sharding && s.offload_optimizer == configured.offload_optimizer &&
                     s.offload_params == configured.offload_params;
      MemoryPlanInput in;
      in.model = shape;
      in.world_size = world;
      in.gpus_per_node = per_node;
      in.sharding = r.sharding;
      in.micro_batch = micro;
      in.seq_len = cutoff;
      in.bf16 = bf16;
      in.device = "cuda";
      in.ddp_bucket_size_mb = bucket_mb;
      in.zero_prefetch = prefetch;
      in.gradient_checkpointing = true;
      r.with_gc = train::plan_memory(in);
      in.gradient_checkpointing = false;
      r.without_gc = train::plan_memory(in);
      r.fit_gc = train::check_fit(r.with_gc, limits);
      r.fit_no_gc = train::check_fit(r.without_gc, limits);
      rows.push_back(std::move(r));
    }
    const Row* conf = nullptr;
    for (const auto& r : rows) {
      if (r.configured) conf = &r;
    }
    const bool conf_fits = gc ? conf->fit_gc.fits() : conf->fit_no_gc.fits();

    // JSON.
    json mj = {{"name", m.name},
               {"shape_source", shape_source},
               {"builtin_shape", builtin},
               {"total_params", shape.num_parameters()},
               {"world_size", world},
               {"nodes", nodes},
               {"gpus_per_node", per_node},
               {"micro_batch", micro},
               {"cutoff_len", cutoff},
               {"bf16", bf16},
               {"gradient_checkpointing", gc},
               {"gradient_checkpointing_from", gc_why},
               {"configured",
                {{"sharding", configured.sharding},
                 {"offload_optimizer", configured.offload_optimizer},
                 {"offload_params", configured.offload_params},
                 {"from", configured_from},
                 {"ignored_fields", configured.ignored_fields}}},
               {"configured_fits", conf_fits},
               {"settings", json::array()}};
    for (const auto& r : rows) {
      mj["settings"].push_back({{"sharding", r.sharding.sharding},
                                {"offload_optimizer", r.sharding.offload_optimizer},
                                {"offload_params", r.sharding.offload_params},
                                {"configured", r.configured},
                                {"with_checkpointing", verdict_json(r.with_gc, r.fit_gc)},
                                {"without_checkpointing", verdict_json(r.without_gc, r.fit_no_gc)}});
    }
    doc["models"].push_back(mj);

    // Text.
    text += fmt::format("\n{}: {} parameters, {}\n", m.name, with_commas(shape.num_parameters()), shape_source);
    text += fmt::format("  {} GPUs ({} node{} x {}), micro-batch {} x cutoff_len {} tokens, {}\n", world, nodes,
                        nodes == 1 ? "" : "s", per_node, micro, cutoff,
                        bf16 ? "bf16 autocast over fp32 weights" : "fp32");
    text += fmt::format("  configured: {} ({}); gradient checkpointing {} ({}){}\n", configured.describe(), configured_from,
                        gc ? "on" : "off", gc_why,
                        !gc && configured.sharding == "zero3" ? "; zero3 switches it on (planned with it on)" : "");
    text += "  GiB per GPU                     params  grads  optim  trans  act+ckpt logits    GPU  fits | no ckpt: act    GPU  fits | host/node  fits\n";
    for (const auto& r : rows) {
      auto dev = [&](const MemoryPlan& p, const char* group) {
        int64_t s = 0;
        for (const auto& x : p.components) {
          if (x.group == group && x.name != "logits_loss") s += x.device_bytes;
        }
        return s;
      };
      auto comp = [&](const MemoryPlan& p, const char* name) {
        for (const auto& x : p.components) {
          if (x.name == name) return x.device_bytes;
        }
        return int64_t{0};
      };
      const std::string label = (r.configured ? "* " : "  ") + short_label(r.sharding);
      const bool host = r.with_gc.host_per_node > 0;
      text += fmt::format(
          "  {:<29} {:>6} {:>6} {:>6} {:>6} {:>8} {:>6} {:>6}  {:<4} | {:>12} {:>6}  {:<4} | {:>9}  {}\n", label,
          gib(comp(r.with_gc, "params")), gib(comp(r.with_gc, "grads")), gib(comp(r.with_gc, "optimizer")),
          gib(dev(r.with_gc, "transient")), gib(dev(r.with_gc, "activations")), gib(comp(r.with_gc, "logits_loss")),
          gib(r.with_gc.device_total), r.fit_gc.gpu_fits ? "yes" : "NO", gib(dev(r.without_gc, "activations")),
          gib(r.without_gc.device_total), r.fit_no_gc.gpu_fits ? "yes" : "NO",
          host ? gib(r.with_gc.host_per_node) : "-", host ? (r.fit_gc.cpu_fits ? "yes" : "NO") : "-");
    }
    text += fmt::format("  => configured setting ({}, checkpointing {}): {}\n", configured.describe(),
                        gc || configured.sharding == "zero3" ? "on" : "off", conf_fits ? "fits" : "does NOT fit");
  }
  text += "\n* = the configured setting. GPU = the sum of the components (an upper bound of the peak); fits = GPU plus\n"
          "headroom within --gpu-memory, and host/node plus headroom within --cpu-memory. trans = transient buffers\n"
          "(gathered layers, unreduced and flattened gradients, all-reduce buckets, autocast's bf16 weight copies).\n"
          "zero3 always recomputes each layer (packbench train switches checkpointing on), so its 'no ckpt' columns\n"
          "are planned with checkpointing on. See docs/memory_plan.md.\n";
  if (o.json) {
    fmt::print("{}\n", doc.dump(2));
  } else {
    fmt::print("{}", text);
  }
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plan", "per-GPU and per-node memory of each study model under each ZeRO setting, and whether it fits");
  auto o = std::make_shared<PlanOptions>();
  cmd->add_option("--config", o->config, "study config (YAML); default: the embedded mini study");
  cmd->add_option("--gpu-memory", o->gpu_memory, "memory per GPU, e.g. 80GB (GB = GiB = 2^30 bytes)")
      ->capture_default_str();
  cmd->add_option("--cpu-memory", o->cpu_memory, "host memory per node, e.g. 1TiB, 2TB")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "one JSON document instead of tables");
  cmd->callback([o] { run_plan(*o); });
}

}  // namespace packbench::cli
