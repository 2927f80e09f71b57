// Reads a DeepSpeed ds_config.json (LLaMA-Factory's `deepspeed:` key) into packbench's sharding settings.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace packbench::train {

// How packbench's sharded trainer splits the model states across the ranks (ZeRO's stages).
//   sharding:          none (plain data parallel) | zero1 (optimizer states) | zero2 (+ gradients)
//                      | zero3 (+ parameters)
//   offload_optimizer: none | cpu  (fp32 master weights, AdamW moments and the fp32 gradient shard
//                      live in CPU memory and the optimizer step runs there; needs zero1..zero3)
//   offload_params:    none | cpu  (the parameter shards live in CPU memory between uses; zero3 only)
struct ShardingSettings {
  std::string sharding = "none";
  std::string offload_optimizer = "none";
  std::string offload_params = "none";
  // Fields of the ds_config.json that were accepted but do not change what packbench does
  // (tuning knobs such as bucket sizes, overlap_comm, stage3_*, whatever their value, "auto"
  // included), as dotted paths in key order. Empty unless they came from read_deepspeed_config.
  std::vector<std::string> ignored_fields;

  // "zero3", "zero3 + offload_optimizer=cpu + offload_params=cpu", ...
  std::string describe() const;
};

// Returns "" when the combination is one packbench implements, else what is wrong (naming the
// field): an unknown value, offload_params without zero3, offload_optimizer with sharding none.
std::string validate_sharding(const ShardingSettings& s);
// Throws packbench::Error "<source>: <what validate_sharding says>" when it is not "".
void check_sharding(const ShardingSettings& s, const std::string& source);

// The training settings a ds_config.json may repeat. As in Hugging Face's DeepSpeed integration
// (transformers' HfTrainerDeepSpeedConfig), "auto" takes the training config's value and a
// concrete value must equal it:
//   train_micro_batch_size_per_gpu  = per_device_train_batch_size
//   gradient_accumulation_steps     = gradient_accumulation_steps
//   train_batch_size                = world_size * per_device_train_batch_size * gradient_accumulation_steps
//                                     (checked only when world_size is known, > 0)
//   gradient_clipping               = max_grad_norm
//   bf16.enabled                    = bf16
//   fp16.enabled                    = false (packbench trains in bf16 or fp32; true is an error)
struct DeepSpeedContext {
  int per_device_train_batch_size = 8;
  int gradient_accumulation_steps = 1;
  double max_grad_norm = 1.0;
  bool bf16 = false;
  int world_size = 0;  // 0: unknown
};

// Reads and checks `path`. Every field must be one packbench knows: the ones above, the
// zero_optimization stage and offload devices (cpu | none; nvme is refused as not implemented),
// and the tuning knobs of LLaMA-Factory's examples/deepspeed/*.json (listed in ignored_fields).
// Anything else, a wrongly typed value or malformed JSON throws packbench::Error naming the
// file and the field path (e.g. "ds.json: zero_optimization.offload_param.nvme_path: ...").
ShardingSettings read_deepspeed_config(const std::string& path, const DeepSpeedContext& ctx);
// The same for an already parsed document; `source` names it in errors.
ShardingSettings parse_deepspeed_config(const nlohmann::json& j, const std::string& source,
                                        const DeepSpeedContext& ctx);

}  // namespace packbench::train
