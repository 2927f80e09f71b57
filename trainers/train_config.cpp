// Training hyperparameters: YAML file + key=value overrides, validated, printable and savable.
#include "trainers/train_config.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "trainers/parallel/deepspeed_config.h"

namespace fs = std::filesystem;

namespace packbench::train {
namespace {

// A value with the place it came from, for messages.
struct Entry {
  YAML::Node node;
  std::string where;  // "FILE" or "command line"
};

std::string msg(const Entry& e, const std::string& key, const std::string& what) {
  return fmt::format("{}: key '{}': {}", e.where, key, what);
}

std::string scalar(const Entry& e, const std::string& key) {
  if (!e.node.IsScalar()) throw Error(msg(e, key, "expected a single value"));
  return e.node.Scalar();
}

bool as_bool(const Entry& e, const std::string& key) {
  std::string s = scalar(e, key);
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "true" || s == "yes" || s == "1" || s == "on") return true;
  if (s == "false" || s == "no" || s == "0" || s == "off") return false;
  throw Error(msg(e, key, fmt::format("expected true or false, got '{}'", s)));
}

int64_t as_int(const Entry& e, const std::string& key, int64_t lo, int64_t hi) {
  const std::string s = scalar(e, key);
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty()) throw Error(msg(e, key, fmt::format("expected an integer, got '{}'", s)));
  if (v < lo || v > hi) throw Error(msg(e, key, fmt::format("{} is outside [{}, {}]", v, lo, hi)));
  return v;
}

double as_double(const Entry& e, const std::string& key, double lo, double hi) {
  const std::string s = scalar(e, key);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || !std::isfinite(v))
    throw Error(msg(e, key, fmt::format("expected a number, got '{}'", s)));
  if (v < lo || v > hi) throw Error(msg(e, key, fmt::format("{} is outside [{}, {}]", s, lo, hi)));
  return v;
}

std::string as_choice(const Entry& e, const std::string& key, const std::vector<std::string>& choices) {
  const std::string s = scalar(e, key);
  if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
    std::string all;
    for (const auto& c : choices) all += (all.empty() ? "" : ", ") + c;
    throw Error(msg(e, key, fmt::format("'{}' is not one of: {}", s, all)));
  }
  return s;
}

constexpr int64_t kMax = int64_t(1) << 50;

using Setter = std::function<void(TrainConfig&, const Entry&, const std::string&)>;

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = [] {
    std::map<std::string, Setter> t;
    auto str = [&](const char* k, std::string TrainConfig::*m) {
      t[k] = [m](TrainConfig& c, const Entry& e, const std::string& key) { c.*m = scalar(e, key); };
    };
    auto i64 = [&](const char* k, int64_t TrainConfig::*m, int64_t lo, int64_t hi) {
      t[k] = [=](TrainConfig& c, const Entry& e, const std::string& key) { c.*m = as_int(e, key, lo, hi); };
    };
    auto i32 = [&](const char* k, int TrainConfig::*m, int64_t lo, int64_t hi) {
      t[k] = [=](TrainConfig& c, const Entry& e, const std::string& key) { c.*m = int(as_int(e, key, lo, hi)); };
    };
    auto dbl = [&](const char* k, double TrainConfig::*m, double lo, double hi) {
      t[k] = [=](TrainConfig& c, const Entry& e, const std::string& key) { c.*m = as_double(e, key, lo, hi); };
    };
    auto bln = [&](const char* k, bool TrainConfig::*m) {
      t[k] = [=](TrainConfig& c, const Entry& e, const std::string& key) { c.*m = as_bool(e, key); };
    };
    auto choice = [&](const char* k, std::string TrainConfig::*m, std::vector<std::string> ch) {
      t[k] = [=](TrainConfig& c, const Entry& e, const std::string& key) { c.*m = as_choice(e, key, ch); };
    };
    str("model_name_or_path", &TrainConfig::model_name_or_path);
    choice("model_init", &TrainConfig::model_init, {"pretrained", "random"});
    str("dataset", &TrainConfig::dataset);
    str("dataset_dir", &TrainConfig::dataset_dir);
    str("tokenizer_dir", &TrainConfig::tokenizer_dir);
    str("template", &TrainConfig::template_name);
    i32("cutoff_len", &TrainConfig::cutoff_len, 2, 1 << 22);
    dbl("val_size", &TrainConfig::val_size, 0.0, 1e15);
    i64("max_samples", &TrainConfig::max_samples, -1, kMax);
    i32("preprocessing_num_workers", &TrainConfig::preprocessing_num_workers, 1, 4096);
    i32("preprocessing_batch_size", &TrainConfig::preprocessing_batch_size, 1, 1 << 30);
    choice("on_bad_record", &TrainConfig::on_bad_record, {"fail", "skip"});
    bln("train_on_prompt", &TrainConfig::train_on_prompt);
    bln("mask_history", &TrainConfig::mask_history);
    choice("row_method", &TrainConfig::row_method, {"padding", "random", "greedy", "bfd"});
    choice("attention", &TrainConfig::attention, {"cross", "block"});
    str("cache_dir", &TrainConfig::cache_dir);
    str("rows_file", &TrainConfig::rows_file);
    dbl("learning_rate", &TrainConfig::learning_rate, 0.0, 10.0);
    dbl("num_train_epochs", &TrainConfig::num_train_epochs, 0.0, 1e6);
    i64("max_steps", &TrainConfig::max_steps, -1, kMax);
    i32("per_device_train_batch_size", &TrainConfig::per_device_train_batch_size, 1, 1 << 20);
    i32("per_device_eval_batch_size", &TrainConfig::per_device_eval_batch_size, 1, 1 << 20);
    i32("gradient_accumulation_steps", &TrainConfig::gradient_accumulation_steps, 1, 1 << 20);
    choice("lr_scheduler_type", &TrainConfig::lr_scheduler_type,
           {"cosine", "linear", "constant", "constant_with_warmup"});
    dbl("warmup_ratio", &TrainConfig::warmup_ratio, 0.0, 1.0);
    i64("warmup_steps", &TrainConfig::warmup_steps, 0, kMax);
    dbl("max_grad_norm", &TrainConfig::max_grad_norm, 0.0, 1e30);
    dbl("weight_decay", &TrainConfig::weight_decay, 0.0, 1e6);
    dbl("adam_beta1", &TrainConfig::adam_beta1, 0.0, 0.999999999);
    dbl("adam_beta2", &TrainConfig::adam_beta2, 0.0, 0.999999999);
    dbl("adam_epsilon", &TrainConfig::adam_epsilon, 0.0, 1.0);
    choice("loss_normalization", &TrainConfig::loss_normalization, {"global_tokens", "per_micro_batch"});
    bln("bf16", &TrainConfig::bf16);
    bln("gradient_checkpointing", &TrainConfig::gradient_checkpointing);
    i32("seed", &TrainConfig::seed, 0, (int64_t(1) << 31) - 1);
    str("output_dir", &TrainConfig::output_dir);
    bln("overwrite_output_dir", &TrainConfig::overwrite_output_dir);
    str("resume_from_checkpoint", &TrainConfig::resume_from_checkpoint);
    i64("logging_steps", &TrainConfig::logging_steps, 0, kMax);
    i64("eval_steps", &TrainConfig::eval_steps, 0, kMax);
    i64("save_steps", &TrainConfig::save_steps, 0, kMax);
    i64("save_total_limit", &TrainConfig::save_total_limit, -1, kMax);
    bln("save_final_model", &TrainConfig::save_final_model);
    choice("save_dtype", &TrainConfig::save_dtype, {"auto", "float32", "bfloat16", "float16"});
    i32("num_threads", &TrainConfig::num_threads, 0, 4096);
    i32("ddp_timeout", &TrainConfig::ddp_timeout, 1, 1 << 24);
    i64("ddp_bucket_size_mb", &TrainConfig::ddp_bucket_size_mb, 1, 1 << 16);
    choice("sharding", &TrainConfig::sharding, {"none", "zero1", "zero2", "zero3"});
    choice("offload_optimizer", &TrainConfig::offload_optimizer, {"none", "cpu"});
    choice("offload_params", &TrainConfig::offload_params, {"none", "cpu"});
    bln("zero_prefetch", &TrainConfig::zero_prefetch);
    str("deepspeed", &TrainConfig::deepspeed);
    return t;
  }();
  return table;
}

}  // namespace

const std::vector<std::string>& ignored_config_keys() {
  static const std::vector<std::string> keys = {
      "do_train", "do_eval", "overwrite_cache", "plot_loss", "report_to", "logging_dir", "run_name",
      "dataloader_num_workers", "ddp_find_unused_parameters", "flash_attn",
      "save_strategy", "logging_strategy", "use_fast_tokenizer", "save_only_model",
      "disable_tqdm", "log_level"};
  return keys;
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  // Collect key -> entry; later entries (command line) replace earlier ones (file).
  std::vector<std::pair<std::string, Entry>> entries;
  if (!path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
      throw Error(fmt::format("{}: cannot read the training configuration", path));
    } catch (const YAML::Exception& e) {
      throw Error(fmt::format("{}: not valid YAML: {}", path, e.what()));
    }
    if (root.IsNull()) {
      // an empty file: nothing set
    } else if (!root.IsMap()) {
      throw Error(fmt::format("{}: expected a mapping of key: value", path));
    } else {
      for (const auto& kv : root) entries.push_back({kv.first.as<std::string>(), Entry{kv.second, path}});
    }
  }
  for (const auto& ov : overrides) {
    const auto eq = ov.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(fmt::format("command line: '{}' is not key=value", ov));
    YAML::Node value;
    try {
      value = YAML::Load(ov.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw Error(fmt::format("command line: key '{}': bad value: {}", ov.substr(0, eq), e.what()));
    }
    if (value.IsNull()) value = YAML::Node(std::string());
    entries.push_back({ov.substr(0, eq), Entry{value, "command line"}});
  }
  std::map<std::string, Entry> last;
  for (auto& [k, e] : entries) last.insert_or_assign(k, e);

  TrainConfig c;
  std::string packing_where, method_where;
  bool have_packing = false, packing = false, have_neat = false, neat = false;
  std::string packing_style = "full";
  const auto& table = setters();
  const auto& ignored = ignored_config_keys();
  for (const auto& [key, e] : last) {
    if (auto it = table.find(key); it != table.end()) {
      it->second(c, e, key);
      if (key == "row_method") method_where = e.where;
    } else if (key == "packing") {
      have_packing = true;
      packing = as_bool(e, key);
      packing_where = e.where;
    } else if (key == "packing_style") {
      packing_style = as_choice(e, key, {"full", "full-no-cut"});
    } else if (key == "neat_packing") {
      have_neat = true;
      neat = as_bool(e, key);
    } else if (key == "stage") {
      as_choice(e, key, {"sft"});
    } else if (key == "finetuning_type") {
      as_choice(e, key, {"full"});
    } else if (key == "fp16") {
      if (as_bool(e, key)) throw Error(msg(e, key, "fp16 training is not supported; use bf16"));
    } else if (key == "eval_strategy" || key == "evaluation_strategy") {
      if (as_choice(e, key, {"no", "steps"}) == "no") c.eval_steps = -1;  // resolved below
    } else if (std::find(ignored.begin(), ignored.end(), key) != ignored.end()) {
      // accepted for compatibility with LLaMA-Factory configs; no effect here
    } else {
      throw Error(msg(e, key, "unknown training option"));
    }
  }
  if (c.eval_steps < 0) c.eval_steps = 0;
  // LLaMA-Factory's packing switches map onto packbench's row methods.
  if (have_packing || have_neat) {
    std::string method = c.row_method;
    if (have_packing) method = packing ? (packing_style == "full-no-cut" ? "greedy" : "random") : "padding";
    if (have_neat && neat) {
      c.attention = "block";
      if (method == "padding" && !(have_packing && !packing)) method = "random";
    }
    if (!method_where.empty() && method != c.row_method)
      throw Error(fmt::format("{}: key 'row_method': '{}' contradicts packing options meaning '{}'",
                              method_where, c.row_method, method));
    c.row_method = method;
  }
  const std::string where = path.empty() ? std::string("command line") : path;
  if (c.model_name_or_path.empty())
    throw Error(fmt::format("{}: key 'model_name_or_path': required", where));
  if (c.output_dir.empty()) throw Error(fmt::format("{}: key 'output_dir': required", where));
  if (c.max_steps < 0 && c.num_train_epochs <= 0)
    throw Error(fmt::format("{}: key 'num_train_epochs': must be > 0 unless max_steps is set", where));
  if (!c.deepspeed.empty()) {
    // LLaMA-Factory's `deepspeed: ds_config.json`: relative to the working directory (as the HF
    // Trainer reads it), else to this configuration file's folder.
    fs::path ds(c.deepspeed);
    if (ds.is_relative() && !fs::exists(ds) && !path.empty()) {
      const fs::path beside = fs::path(path).parent_path() / ds;
      if (fs::exists(beside)) ds = beside;
    }
    DeepSpeedContext ctx;
    ctx.per_device_train_batch_size = c.per_device_train_batch_size;
    ctx.gradient_accumulation_steps = c.gradient_accumulation_steps;
    ctx.max_grad_norm = c.max_grad_norm;
    ctx.bf16 = c.bf16;
    const ShardingSettings s = read_deepspeed_config(ds.string(), ctx);
    const std::pair<const char*, std::pair<std::string*, std::string>> pairs[] = {
        {"sharding", {&c.sharding, s.sharding}},
        {"offload_optimizer", {&c.offload_optimizer, s.offload_optimizer}},
        {"offload_params", {&c.offload_params, s.offload_params}}};
    for (const auto& [key, v] : pairs) {
      if (auto it = last.find(key); it != last.end() && *v.first != v.second)
        throw Error(fmt::format("{}: key '{}': '{}' contradicts deepspeed: {}, which means '{}'", it->second.where, key,
                                *v.first, ds.string(), v.second));
      *v.first = v.second;
    }
    c.deepspeed = ds.string();
  }
  if (c.offload_optimizer != "none" && c.sharding == "none")
    throw Error(fmt::format("{}: key 'offload_optimizer': offloading needs sharding zero1, zero2 or zero3", where));
  if (c.offload_params != "none" && c.sharding != "zero3")
    throw Error(fmt::format("{}: key 'offload_params': parameters can be offloaded only with sharding: zero3 (it is {})",
                            where, c.sharding));
  if (c.attention == "block" && c.row_method == "padding")
    throw Error(fmt::format("{}: key 'attention': block attention needs a packing row_method", where));
  return c;
}

nlohmann::json TrainConfig::to_json() const {
  return nlohmann::json{
      {"model_name_or_path", model_name_or_path}, {"model_init", model_init},
      {"dataset", dataset}, {"dataset_dir", dataset_dir}, {"tokenizer_dir", tokenizer_dir},
      {"template", template_name}, {"cutoff_len", cutoff_len}, {"val_size", val_size},
      {"max_samples", max_samples}, {"preprocessing_num_workers", preprocessing_num_workers},
      {"preprocessing_batch_size", preprocessing_batch_size}, {"on_bad_record", on_bad_record},
      {"train_on_prompt", train_on_prompt}, {"mask_history", mask_history},
      {"row_method", row_method}, {"attention", attention}, {"cache_dir", cache_dir}, {"rows_file", rows_file},
      {"learning_rate", learning_rate}, {"num_train_epochs", num_train_epochs},
      {"max_steps", max_steps}, {"per_device_train_batch_size", per_device_train_batch_size},
      {"per_device_eval_batch_size", per_device_eval_batch_size},
      {"gradient_accumulation_steps", gradient_accumulation_steps},
      {"lr_scheduler_type", lr_scheduler_type}, {"warmup_ratio", warmup_ratio},
      {"warmup_steps", warmup_steps}, {"max_grad_norm", max_grad_norm},
      {"weight_decay", weight_decay}, {"adam_beta1", adam_beta1}, {"adam_beta2", adam_beta2},
      {"adam_epsilon", adam_epsilon}, {"loss_normalization", loss_normalization}, {"bf16", bf16},
      {"gradient_checkpointing", gradient_checkpointing}, {"seed", seed},
      {"output_dir", output_dir}, {"overwrite_output_dir", overwrite_output_dir},
      {"resume_from_checkpoint", resume_from_checkpoint}, {"logging_steps", logging_steps},
      {"eval_steps", eval_steps}, {"save_steps", save_steps},
      {"save_total_limit", save_total_limit}, {"save_final_model", save_final_model},
      {"save_dtype", save_dtype},
      {"num_threads", num_threads}, {"ddp_timeout", ddp_timeout},
      {"ddp_bucket_size_mb", ddp_bucket_size_mb}, {"sharding", sharding},
      {"offload_optimizer", offload_optimizer}, {"offload_params", offload_params}, {"zero_prefetch", zero_prefetch}, {"deepspeed", deepspeed}};
}

std::string TrainConfig::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  const nlohmann::json all = to_json();
  for (const auto& [k, v] : all.items()) {
    out << YAML::Key << k << YAML::Value;
    if (v.is_string()) out << v.get<std::string>();
    else if (v.is_boolean()) out << v.get<bool>();
    else if (v.is_number_integer()) out << v.get<int64_t>();
    else out << fmt::format("{}", v.get<double>());
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace packbench::train
