// Reads a DeepSpeed ds_config.json (LLaMA-Factory's `deepspeed:` key) into packbench's sharding settings.
#include "trainers/parallel/deepspeed_config.h"

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::train {
namespace {

using nlohmann::json;

// What a field of ds_config.json is to packbench.
enum class Kind {
  kObject,          // a block whose fields are listed with their own paths
  kChecked,         // acted on or checked against the training config (handled by name)
  kKnobBool,        // a tuning knob: true/false, accepted and ignored
  kKnobNumber,      // a tuning knob: a number or "auto", accepted and ignored
  kKnobString,      // a label, accepted and ignored
  kNvme,            // only meaningful for NVMe offload, which packbench does not implement
  kNotImplemented,  // a DeepSpeed feature packbench does not implement (message in the table)
};

struct Field {
  Kind kind;
  const char* why = "";  // kNotImplemented: the message
};

// Every field packbench accepts, by dotted path: the fields of LLaMA-Factory's
// examples/deepspeed/ds_z{0,2,3}_config.json, ds_z{2,3}_offload_config.json and a few common ones.
const std::map<std::string, Field>& schema() {
  static const std::map<std::string, Field> s = {
      {"train_batch_size", {Kind::kChecked}},
      {"train_micro_batch_size_per_gpu", {Kind::kChecked}},
      {"gradient_accumulation_steps", {Kind::kChecked}},
      {"gradient_clipping", {Kind::kChecked}},
      {"zero_allow_untested_optimizer", {Kind::kKnobBool}},
      {"steps_per_print", {Kind::kKnobNumber}},
      {"wall_clock_breakdown", {Kind::kKnobBool}},
      {"optimizer", {Kind::kNotImplemented,
                     "packbench's optimizer is the training config's AdamW (learning_rate, adam_beta1/2, "
                     "adam_epsilon, weight_decay); remove this block"}},
      {"scheduler", {Kind::kNotImplemented,
                     "packbench's schedule is the training config's lr_scheduler_type and warmup; remove this block"}},
      {"fp16", {Kind::kObject}},
      {"fp16.enabled", {Kind::kChecked}},
      {"fp16.auto_cast", {Kind::kKnobBool}},
      {"fp16.loss_scale", {Kind::kKnobNumber}},
      {"fp16.loss_scale_window", {Kind::kKnobNumber}},
      {"fp16.initial_scale_power", {Kind::kKnobNumber}},
      {"fp16.hysteresis", {Kind::kKnobNumber}},
      {"fp16.min_loss_scale", {Kind::kKnobNumber}},
      {"bf16", {Kind::kObject}},
      {"bf16.enabled", {Kind::kChecked}},
      {"zero_optimization", {Kind::kObject}},
      {"zero_optimization.stage", {Kind::kChecked}},
      {"zero_optimization.offload_optimizer", {Kind::kObject}},
      {"zero_optimization.offload_optimizer.device", {Kind::kChecked}},
      {"zero_optimization.offload_optimizer.pin_memory", {Kind::kKnobBool}},
      {"zero_optimization.offload_optimizer.nvme_path", {Kind::kNvme}},
      {"zero_optimization.offload_optimizer.buffer_count", {Kind::kNvme}},
      {"zero_optimization.offload_optimizer.pipeline_read", {Kind::kNvme}},
      {"zero_optimization.offload_optimizer.pipeline_write", {Kind::kNvme}},
      {"zero_optimization.offload_optimizer.fast_init", {Kind::kNvme}},
      {"zero_optimization.offload_optimizer.ratio",
       {Kind::kNotImplemented, "partial optimizer offload is not implemented (the whole optimizer state is offloaded)"}},
      {"zero_optimization.offload_param", {Kind::kObject}},
      {"zero_optimization.offload_param.device", {Kind::kChecked}},
      {"zero_optimization.offload_param.pin_memory", {Kind::kKnobBool}},
      {"zero_optimization.offload_param.nvme_path", {Kind::kNvme}},
      {"zero_optimization.offload_param.buffer_count", {Kind::kNvme}},
      {"zero_optimization.offload_param.buffer_size", {Kind::kNvme}},
      {"zero_optimization.offload_param.max_in_cpu", {Kind::kNvme}},
      {"zero_optimization.allgather_partitions", {Kind::kKnobBool}},
      {"zero_optimization.allgather_bucket_size", {Kind::kKnobNumber}},
      {"zero_optimization.overlap_comm", {Kind::kKnobBool}},
      {"zero_optimization.reduce_scatter", {Kind::kKnobBool}},
      {"zero_optimization.reduce_bucket_size", {Kind::kKnobNumber}},
      {"zero_optimization.contiguous_gradients", {Kind::kKnobBool}},
      {"zero_optimization.round_robin_gradients", {Kind::kKnobBool}},
      {"zero_optimization.sub_group_size", {Kind::kKnobNumber}},
      {"zero_optimization.stage3_prefetch_bucket_size", {Kind::kKnobNumber}},
      {"zero_optimization.stage3_param_persistence_threshold", {Kind::kKnobNumber}},
      {"zero_optimization.stage3_max_live_parameters", {Kind::kKnobNumber}},
      {"zero_optimization.stage3_max_reuse_distance", {Kind::kKnobNumber}},
      {"zero_optimization.stage3_gather_16bit_weights_on_model_save", {Kind::kKnobBool}},
      {"comms_config", {Kind::kObject}},
      {"comms_config.verbose", {Kind::kKnobBool}},
      {"monitor_config", {Kind::kObject}},
      {"monitor_config.enabled", {Kind::kKnobBool}},
      {"monitor_config.tag", {Kind::kKnobString}},
      {"monitor_config.csv_monitor", {Kind::kObject}},
      {"monitor_config.csv_monitor.enabled", {Kind::kKnobBool}},
      {"monitor_config.csv_monitor.output_path", {Kind::kKnobString}},
      {"monitor_config.csv_monitor.job_name", {Kind::kKnobString}},
  };
  return s;
}

class Reader {
 public:
  Reader(std::string source, const DeepSpeedContext& ctx) : source_(std::move(source)), ctx_(ctx) {}

  ShardingSettings read(const json& j) {
    if (!j.is_object()) throw Error(source_ + ": expected a JSON object at the top level, got " + j.type_name());
    walk(j, "");
    check_sharding(out_, source_);
    return out_;
  }

 private:
  [[noreturn]] void fail(const std::string& path, const std::string& why) const {
    throw Error(source_ + ": " + path + ": " + why);
  }

  static bool is_auto(const json& v) { return v.is_string() && v.get<std::string>() == "auto"; }

  void walk(const json& obj, const std::string& prefix) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
      const auto& s = schema();
      auto f = s.find(path);
      if (f == s.end()) fail(path, "unknown field (not a DeepSpeed setting packbench implements)");
      const json& v = it.value();
      switch (f->second.kind) {
        case Kind::kObject:
          if (!v.is_object()) fail(path, std::string("expected an object, got ") + v.dump());
          walk(v, path);
          break;
        case Kind::kChecked:
          checked(path, v);
          break;
        case Kind::kKnobBool:
          if (!v.is_boolean() && !is_auto(v)) fail(path, "expected true, false or \"auto\", got " + v.dump());
          out_.ignored_fields.push_back(path);
          break;
        case Kind::kKnobNumber:
          if (!v.is_number() && !is_auto(v)) fail(path, "expected a number or \"auto\", got " + v.dump());
          out_.ignored_fields.push_back(path);
          break;
        case Kind::kKnobString:
          if (!v.is_string()) fail(path, "expected a string, got " + v.dump());
          out_.ignored_fields.push_back(path);
          break;
        case Kind::kNvme:
          fail(path, "NVMe offload is not implemented");
        case Kind::kNotImplemented:
          fail(path, f->second.why);
      }
    }
  }

  // An integer setting that must equal the training config's (or be "auto").
  void match_int(const std::string& path, const json& v, int64_t expected, const std::string& hf_name) {
    if (is_auto(v)) return;
    if (!v.is_number_integer()) fail(path, "expected an integer or \"auto\", got " + v.dump());
    if (v.get<int64_t>() != expected) {
      throw Error(source_ + ": " + path + "=" + v.dump() + " conflicts with the training config's " + hf_name +
                  "=" + std::to_string(expected) + " (set it to \"auto\" or to the same value)");
    }
  }

  void checked(const std::string& path, const json& v) {
    if (path == "train_micro_batch_size_per_gpu") {
      match_int(path, v, ctx_.per_device_train_batch_size, "per_device_train_batch_size");
    } else if (path == "gradient_accumulation_steps") {
      match_int(path, v, ctx_.gradient_accumulation_steps, "gradient_accumulation_steps");
    } else if (path == "train_batch_size") {
      if (is_auto(v)) return;
      if (!v.is_number_integer()) fail(path, "expected an integer or \"auto\", got " + v.dump());
      const int64_t per_rank = int64_t{ctx_.per_device_train_batch_size} * ctx_.gradient_accumulation_steps;
      if (ctx_.world_size > 0) {
        match_int(path, v, per_rank * ctx_.world_size,
                  "world size x per_device_train_batch_size x gradient_accumulation_steps (" +
                      std::to_string(ctx_.world_size) + " x " + std::to_string(ctx_.per_device_train_batch_size) +
                      " x " + std::to_string(ctx_.gradient_accumulation_steps) + ")");
      } else if (per_rank <= 0 || v.get<int64_t>() % per_rank != 0) {
        fail(path, v.dump() + " is not a multiple of per_device_train_batch_size x gradient_accumulation_steps = " +
                       std::to_string(per_rank));
      }
    } else if (path == "gradient_clipping") {
      if (is_auto(v)) return;
      if (!v.is_number()) fail(path, "expected a number or \"auto\", got " + v.dump());
      const double d = v.get<double>();
      if (std::fabs(d - ctx_.max_grad_norm) > 1e-12 * std::max(1.0, std::fabs(ctx_.max_grad_norm))) {
        throw Error(source_ + ": " + path + "=" + v.dump() + " conflicts with the training config's max_grad_norm=" +
                    json(ctx_.max_grad_norm).dump() + " (set it to \"auto\" or to the same value)");
      }
    } else if (path == "fp16.enabled") {
      if (is_auto(v)) return;
      if (!v.is_boolean()) fail(path, "expected true, false or \"auto\", got " + v.dump());
      if (v.get<bool>()) fail(path, "fp16 training is not implemented (packbench trains in bf16 or fp32)");
    } else if (path == "bf16.enabled") {
      if (is_auto(v)) return;
      if (!v.is_boolean()) fail(path, "expected true, false or \"auto\", got " + v.dump());
      if (v.get<bool>() != ctx_.bf16) {
        throw Error(source_ + ": " + path + "=" + v.dump() + " conflicts with the training config's bf16=" +
                    (ctx_.bf16 ? "true" : "false") + " (set it to \"auto\" or to the same value)");
      }
    } else if (path == "zero_optimization.stage") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 3) {
        fail(path, "expected 0, 1, 2 or 3, got " + v.dump());
      }
      static const char* names[] = {"none", "zero1", "zero2", "zero3"};
      out_.sharding = names[v.get<int64_t>()];
    } else if (path == "zero_optimization.offload_optimizer.device" ||
               path == "zero_optimization.offload_param.device") {
      if (!v.is_string()) fail(path, "expected \"cpu\" or \"none\", got " + v.dump());
      const std::string d = v.get<std::string>();
      if (d == "nvme") fail(path, "NVMe offload is not implemented (use \"cpu\" or \"none\")");
      if (d != "cpu" && d != "none") fail(path, "expected \"cpu\" or \"none\", got " + v.dump());
      (path == "zero_optimization.offload_param.device" ? out_.offload_params : out_.offload_optimizer) = d;
    } else {
      fail(path, "internal: no check for this field");  // the schema and this function disagree
    }
  }

  std::string source_;
  DeepSpeedContext ctx_;
  ShardingSettings out_;
};

}  // namespace

std::string ShardingSettings::describe() const {
  std::string s = sharding;
  if (offload_optimizer != "none") s += " + offload_optimizer=" + offload_optimizer;
  if (offload_params != "none") s += " + offload_params=" + offload_params;
  return s;
}

std::string validate_sharding(const ShardingSettings& s) {
  if (s.sharding != "none" && s.sharding != "zero1" && s.sharding != "zero2" && s.sharding != "zero3") {
    return "sharding: '" + s.sharding + "' is not one of none, zero1, zero2, zero3";
  }
  for (const auto& [field, value] : {std::pair<const char*, const std::string&>{"offload_optimizer", s.offload_optimizer},
                                     {"offload_params", s.offload_params}}) {
    if (value == "nvme") return std::string(field) + ": NVMe offload is not implemented (use cpu or none)";
    if (value != "none" && value != "cpu") return std::string(field) + ": '" + value + "' is not one of none, cpu";
  }
  if (s.offload_params == "cpu" && s.sharding != "zero3") {
    return "offload_params: cpu needs sharding zero3 (parameters are sharded only at ZeRO-3), got sharding " +
           s.sharding;
  }
  if (s.offload_optimizer == "cpu" && s.sharding == "none") {
    return "offload_optimizer: cpu needs sharding zero1, zero2 or zero3 (the offloaded optimizer state is the "
           "rank's shard), got sharding none";
  }
  return "";
}

void check_sharding(const ShardingSettings& s, const std::string& source) {
  const std::string why = validate_sharding(s);
  if (!why.empty()) throw Error(source + ": " + why);
}

ShardingSettings parse_deepspeed_config(const json& j, const std::string& source, const DeepSpeedContext& ctx) {
  return Reader(source, ctx).read(j);
}

ShardingSettings read_deepspeed_config(const std::string& path, const DeepSpeedContext& ctx) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw Error(path + ": cannot read the DeepSpeed config: " + e.what());
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(path + ": not valid JSON (byte " + std::to_string(e.byte) + "): " + e.what());
  }
  return parse_deepspeed_config(j, path, ctx);
}

}  // namespace packbench::train
