// ds_config.json reading: the shipped LLaMA-Factory-style examples, "auto", conflicts, unknown fields, NVMe, bad JSON.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/test_paths.h"
#include "trainers/parallel/deepspeed_config.h"

using namespace packbench;
using namespace packbench::train;
using nlohmann::json;

namespace {

std::string shipped(const std::string& name) { return packbench::testing::source_dir() + "/configs/deepspeed/" + name; }

DeepSpeedContext paper_8b() {
  DeepSpeedContext c;
  c.per_device_train_batch_size = 2;
  c.gradient_accumulation_steps = 2;
  c.max_grad_norm = 1.0;
  c.bf16 = true;
  c.world_size = 32;
  return c;
}

std::string write_json(const std::string& text) {
  const std::string path = packbench::testing::temp_dir("ds-config") + "/ds.json";
  write_file_atomic(path, text);
  return path;
}

// The shipped ds_z3_config.json with `patch` merged in (json merge_patch: null removes a field).
std::string z3_with(const json& patch) {
  json j = json::parse(read_file(shipped("ds_z3_config.json")));
  j.merge_patch(patch);
  return write_json(j.dump(2));
}

std::string error_of(const std::string& path, const DeepSpeedContext& ctx) {
  try {
    read_deepspeed_config(path, ctx);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

TEST(DeepSpeedConfig, ShippedExamplesMapToShardingSettings) {
  struct Case {
    const char* file;
    const char* sharding;
    const char* opt;
    const char* par;
  };
  const Case cases[] = {{"ds_z0_config.json", "none", "none", "none"},
                        {"ds_z2_config.json", "zero2", "none", "none"},
                        {"ds_z2_offload_config.json", "zero2", "cpu", "none"},
                        {"ds_z3_config.json", "zero3", "none", "none"},
                        {"ds_z3_offload_config.json", "zero3", "cpu", "cpu"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const ShardingSettings s = read_deepspeed_config(shipped(c.file), paper_8b());
    EXPECT_EQ(s.sharding, c.sharding);
    EXPECT_EQ(s.offload_optimizer, c.opt);
    EXPECT_EQ(s.offload_params, c.par);
    EXPECT_EQ(validate_sharding(s), "");
  }
  EXPECT_EQ(read_deepspeed_config(shipped("ds_z3_offload_config.json"), paper_8b()).describe(),
            "zero3 + offload_optimizer=cpu + offload_params=cpu");
}

TEST(DeepSpeedConfig, TuningKnobsAreListedAsIgnored) {
  const ShardingSettings z3 = read_deepspeed_config(shipped("ds_z3_offload_config.json"), paper_8b());
  for (const char* f : {"zero_optimization.overlap_comm", "zero_optimization.contiguous_gradients",
                        "zero_optimization.sub_group_size", "zero_optimization.reduce_bucket_size",
                        "zero_optimization.stage3_prefetch_bucket_size",
                        "zero_optimization.stage3_param_persistence_threshold",
                        "zero_optimization.stage3_max_live_parameters", "zero_optimization.stage3_max_reuse_distance",
                        "zero_optimization.stage3_gather_16bit_weights_on_model_save",
                        "zero_optimization.offload_optimizer.pin_memory", "zero_optimization.offload_param.pin_memory",
                        "fp16.loss_scale", "fp16.initial_scale_power", "zero_allow_untested_optimizer",
                        "comms_config.verbose", "monitor_config.tag", "monitor_config.csv_monitor.enabled"}) {
    EXPECT_TRUE(has(z3.ignored_fields, f)) << f;
  }
  // Fields that are acted on or checked are not "ignored".
  for (const char* f : {"zero_optimization.stage", "zero_optimization.offload_param.device", "bf16.enabled",
                        "train_micro_batch_size_per_gpu", "gradient_clipping"}) {
    EXPECT_FALSE(has(z3.ignored_fields, f)) << f;
  }
  const ShardingSettings z2 = read_deepspeed_config(shipped("ds_z2_config.json"), paper_8b());
  EXPECT_TRUE(has(z2.ignored_fields, "zero_optimization.allgather_bucket_size"));
  EXPECT_TRUE(has(z2.ignored_fields, "zero_optimization.round_robin_gradients"));
}

// "auto" takes the training config's value whatever it is; matching concrete values pass.
TEST(DeepSpeedConfig, AutoAndMatchingValuesAreAccepted) {
  DeepSpeedContext odd;
  odd.per_device_train_batch_size = 7;
  odd.gradient_accumulation_steps = 3;
  odd.max_grad_norm = 0.3;
  odd.bf16 = false;
  odd.world_size = 5;
  EXPECT_EQ(read_deepspeed_config(shipped("ds_z3_config.json"), odd).sharding, "zero3");
  const std::string concrete = z3_with({{"train_micro_batch_size_per_gpu", 2},
                                        {"gradient_accumulation_steps", 2},
                                        {"train_batch_size", 128},  // 32 x 2 x 2
                                        {"gradient_clipping", 1.0},
                                        {"bf16", {{"enabled", true}}},
                                        {"fp16", {{"enabled", false}}}});
  EXPECT_EQ(read_deepspeed_config(concrete, paper_8b()).sharding, "zero3");
  // World size unknown: train_batch_size only has to be a multiple of micro-batch x accumulation.
  DeepSpeedContext unknown = paper_8b();
  unknown.world_size = 0;
  EXPECT_EQ(read_deepspeed_config(concrete, unknown).sharding, "zero3");
  EXPECT_NE(error_of(z3_with({{"train_batch_size", 6}}), unknown).find("not a multiple"), std::string::npos);
}

TEST(DeepSpeedConfig, ConflictingValuesNameBothFields) {
  std::string e = error_of(z3_with({{"train_micro_batch_size_per_gpu", 4}}), paper_8b());
  EXPECT_NE(e.find("ds.json"), std::string::npos) << e;
  EXPECT_NE(e.find("train_micro_batch_size_per_gpu=4"), std::string::npos) << e;
  EXPECT_NE(e.find("per_device_train_batch_size=2"), std::string::npos) << e;

  e = error_of(z3_with({{"gradient_accumulation_steps", 8}}), paper_8b());
  EXPECT_NE(e.find("gradient_accumulation_steps=8"), std::string::npos) << e;
  EXPECT_NE(e.find("gradient_accumulation_steps=2"), std::string::npos) << e;

  e = error_of(z3_with({{"train_batch_size", 64}}), paper_8b());
  EXPECT_NE(e.find("train_batch_size=64"), std::string::npos) << e;
  EXPECT_NE(e.find("=128"), std::string::npos) << e;

  e = error_of(z3_with({{"gradient_clipping", 0.5}}), paper_8b());
  EXPECT_NE(e.find("gradient_clipping=0.5"), std::string::npos) << e;
  EXPECT_NE(e.find("max_grad_norm=1.0"), std::string::npos) << e;

  e = error_of(z3_with({{"bf16", {{"enabled", false}}}}), paper_8b());
  EXPECT_NE(e.find("bf16.enabled=false"), std::string::npos) << e;
  EXPECT_NE(e.find("bf16=true"), std::string::npos) << e;

  e = error_of(z3_with({{"fp16", {{"enabled", true}}}}), paper_8b());
  EXPECT_NE(e.find("fp16.enabled"), std::string::npos) << e;
  EXPECT_NE(e.find("not implemented"), std::string::npos) << e;
}

TEST(DeepSpeedConfig, UnknownFieldsAreRejectedByPath) {
  std::string e = error_of(z3_with({{"zero_optimization", {{"stage3_made_up_knob", 1}}}}), paper_8b());
  EXPECT_NE(e.find("ds.json: zero_optimization.stage3_made_up_knob: unknown field"), std::string::npos) << e;
  e = error_of(z3_with({{"activation_checkpointing", {{"partition_activations", true}}}}), paper_8b());
  EXPECT_NE(e.find("ds.json: activation_checkpointing: unknown field"), std::string::npos) << e;
  e = error_of(z3_with({{"optimizer", {{"type", "AdamW"}}}}), paper_8b());
  EXPECT_NE(e.find("ds.json: optimizer: packbench's optimizer"), std::string::npos) << e;
  // Wrong types and values name the field too.
  e = error_of(z3_with({{"zero_optimization", {{"stage", 4}}}}), paper_8b());
  EXPECT_NE(e.find("zero_optimization.stage: expected 0, 1, 2 or 3, got 4"), std::string::npos) << e;
  e = error_of(z3_with({{"zero_optimization", {{"overlap_comm", "yes"}}}}), paper_8b());
  EXPECT_NE(e.find("zero_optimization.overlap_comm: expected true, false"), std::string::npos) << e;
  e = error_of(z3_with({{"zero_optimization", {{"offload_param", {{"device", "gpu"}}}}}}), paper_8b());
  EXPECT_NE(e.find("zero_optimization.offload_param.device: expected \"cpu\" or \"none\""), std::string::npos) << e;
}

TEST(DeepSpeedConfig, NvmeOffloadIsNotImplemented) {
  std::string e = error_of(
      z3_with({{"zero_optimization", {{"offload_param", {{"device", "nvme"}, {"nvme_path", "/local_nvme"}}}}}}),
      paper_8b());
  EXPECT_NE(e.find("ds.json: zero_optimization.offload_param."), std::string::npos) << e;
  EXPECT_NE(e.find("NVMe offload is not implemented"), std::string::npos) << e;
  e = error_of(z3_with({{"zero_optimization", {{"offload_param", {{"nvme_path", "/local_nvme"}}}}}}), paper_8b());
  EXPECT_NE(e.find("ds.json: zero_optimization.offload_param.nvme_path: NVMe offload is not implemented"),
            std::string::npos)
      << e;
  e = error_of(z3_with({{"zero_optimization", {{"offload_optimizer", {{"device", "nvme"}}}}}}), paper_8b());
  EXPECT_NE(e.find("zero_optimization.offload_optimizer.device: NVMe offload is not implemented"), std::string::npos)
      << e;
}

TEST(DeepSpeedConfig, ParamOffloadNeedsZero3) {
  json j = json::parse(read_file(shipped("ds_z2_offload_config.json")));
  j["zero_optimization"]["offload_param"] = {{"device", "cpu"}};
  const std::string e = error_of(write_json(j.dump()), paper_8b());
  EXPECT_NE(e.find("offload_params: cpu needs sharding zero3"), std::string::npos) << e;
  json z0 = json::parse(read_file(shipped("ds_z0_config.json")));
  z0["zero_optimization"]["offload_optimizer"] = {{"device", "cpu"}};
  EXPECT_NE(error_of(write_json(z0.dump()), paper_8b()).find("offload_optimizer: cpu needs sharding zero1"),
            std::string::npos);
  ShardingSettings s;
  s.sharding = "zero2";
  s.offload_params = "cpu";
  EXPECT_NE(validate_sharding(s), "");
  s.sharding = "zero3";
  EXPECT_EQ(validate_sharding(s), "");
  s.sharding = "zero4";
  EXPECT_NE(validate_sharding(s).find("'zero4' is not one of"), std::string::npos);
}

TEST(DeepSpeedConfig, MalformedJsonNamesFileAndPosition) {
  const std::string path = write_json("{\n  \"zero_optimization\": {\n    \"stage\": 3,\n  }\n}\n");
  const std::string e = error_of(path, paper_8b());
  EXPECT_NE(e.find(path + ": not valid JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("line 4"), std::string::npos) << e;  // the '}' after the trailing comma
  EXPECT_NE(error_of(write_json("[1, 2]"), paper_8b()).find("expected a JSON object at the top level"),
            std::string::npos);
  EXPECT_NE(error_of("/nonexistent/ds.json", paper_8b()).find("/nonexistent/ds.json"), std::string::npos);
}
