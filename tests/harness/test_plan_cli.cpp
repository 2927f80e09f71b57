// 'packbench plan' through the binary on configs/paper.yaml: the paper's settings fit, the unsharded ones do not; bad input.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "tests/common/test_paths.h"

using nlohmann::json;
using packbench::testing::packbench_bin;
using packbench::testing::run_command;

namespace {

std::string paper() { return packbench::testing::source_dir() + "/configs/paper.yaml"; }

json plan_json(const std::string& args) {
  std::string out;
  EXPECT_EQ(run_command(packbench_bin() + " plan " + args + " --json 2>/dev/null", &out), 0) << out;
  return json::parse(out);
}

const json& model(const json& doc, const std::string& name) {
  for (const auto& m : doc["models"]) {
    if (m["name"] == name) return m;
  }
  throw std::runtime_error("no model " + name + " in " + doc.dump());
}

// The row of one setting; `gc` picks with or without activation checkpointing.
const json& row(const json& m, const std::string& sharding, const std::string& offload_opt,
                const std::string& offload_params, bool gc) {
  for (const auto& s : m["settings"]) {
    if (s["sharding"] == sharding && s["offload_optimizer"] == offload_opt && s["offload_params"] == offload_params) {
      return s[gc ? "with_checkpointing" : "without_checkpointing"];
    }
  }
  throw std::runtime_error("no setting " + sharding + " in " + m.dump());
}

}  // namespace

TEST(PlanCli, PaperSettingsFitAndUnshardedOnesDoNot) {
  const json doc = plan_json("--config " + paper());
  EXPECT_EQ(doc["gpu_memory_bytes"], int64_t{80} << 30);
  EXPECT_EQ(doc["cpu_memory_bytes_per_node"], int64_t{1} << 40);
  const json& m8 = model(doc, "LLaMA-3-8B");
  const json& m70 = model(doc, "LLaMA-3-70B");
  for (const json* m : {&m8, &m70}) {
    EXPECT_EQ((*m)["world_size"], 32);
    EXPECT_EQ((*m)["gpus_per_node"], 8);
    EXPECT_EQ((*m)["cutoff_len"], 4096);
    EXPECT_EQ((*m)["bf16"], true);
    EXPECT_EQ((*m)["gradient_checkpointing"], true);  // LLaMA-Factory's default: paper.yaml does not set it
    EXPECT_EQ((*m)["configured_fits"], true) << (*m)["name"];
  }
  EXPECT_EQ(m8["micro_batch"], 2);
  EXPECT_EQ(m70["micro_batch"], 1);
  // Shapes: config.json when the folder exists, else the built-in LLaMA-3 shape (HF's parameter counts).
  EXPECT_EQ(m8["total_params"], 8030261248);
  EXPECT_EQ(m70["total_params"], 70553706496);
  // The configured settings come from the deepspeed: files.
  EXPECT_EQ(m8["configured"]["sharding"], "zero3");
  EXPECT_EQ(m8["configured"]["offload_optimizer"], "none");
  EXPECT_EQ(m70["configured"]["sharding"], "zero3");
  EXPECT_EQ(m70["configured"]["offload_optimizer"], "cpu");
  EXPECT_EQ(m70["configured"]["offload_params"], "cpu");
  // 8B: ZeRO-3 fits, plain data parallel does not.
  EXPECT_TRUE(row(m8, "zero3", "none", "none", true)["fits"]);
  EXPECT_FALSE(row(m8, "none", "none", "none", true)["fits"]);
  EXPECT_FALSE(row(m8, "none", "none", "none", false)["fits"]);
  // 70B: ZeRO-3 with both offloads fits (GPU and host); none, ZeRO-1 and ZeRO-2 do not.
  const json& z3oo = row(m70, "zero3", "cpu", "cpu", true);
  EXPECT_TRUE(z3oo["gpu_fits"]);
  EXPECT_TRUE(z3oo["cpu_fits"]);
  // 16 B/param x 70.6e9 / 4 nodes = 262.8 GiB: param, gradient and moment shards of 8 ranks.
  EXPECT_GT(z3oo["host_bytes_per_node"].get<int64_t>(), int64_t{262} << 30);
  EXPECT_LT(z3oo["host_bytes_per_node"].get<int64_t>(), int64_t{263} << 30);
  EXPECT_EQ(z3oo["model_states_device_bytes"], 0);
  // zero3 recomputes every layer: its "without checkpointing" plan is the same plan.
  EXPECT_TRUE(row(m70, "zero3", "cpu", "cpu", false)["gradient_checkpointing_forced"]);
  EXPECT_EQ(row(m70, "zero3", "cpu", "cpu", false)["device_total_bytes"], z3oo["device_total_bytes"]);
  EXPECT_FALSE(z3oo["gradient_checkpointing_forced"]);
  for (const char* z : {"none", "zero1", "zero2"}) {
    EXPECT_FALSE(row(m70, z, "none", "none", true)["fits"]) << z;
    EXPECT_FALSE(row(m70, z, "none", "none", false)["fits"]) << z;
  }
  // Each setting's components add up to its total.
  for (const auto& s : m70["settings"]) {
    int64_t sum = 0;
    for (const auto& c : s["with_checkpointing"]["components"]) sum += c["device_bytes"].get<int64_t>();
    EXPECT_EQ(sum, s["with_checkpointing"]["device_total_bytes"].get<int64_t>());
  }
}

TEST(PlanCli, SmallerLimitsChangeTheVerdicts) {
  // 200 GiB of host memory per node cannot hold 8 ranks' offloaded 70B states (about 263 GiB).
  json doc = plan_json("--config " + paper() + " --cpu-memory 200GiB");
  EXPECT_FALSE(model(doc, "LLaMA-3-70B")["configured_fits"]);
  EXPECT_FALSE(row(model(doc, "LLaMA-3-70B"), "zero3", "cpu", "cpu", true)["cpu_fits"]);
  EXPECT_TRUE(model(doc, "LLaMA-3-8B")["configured_fits"]);  // no offload: host memory does not matter
  // 10 GB GPUs: not even the 8B ZeRO-3 setting.
  doc = plan_json("--config " + paper() + " --gpu-memory 10GB");
  EXPECT_FALSE(model(doc, "LLaMA-3-8B")["configured_fits"]);
}

TEST(PlanCli, HumanTables) {
  std::string out;
  ASSERT_EQ(run_command(packbench_bin() + " plan --config " + paper() + " 2>&1", &out), 0) << out;
  for (const char* s : {"LLaMA-3-8B: 8,030,261,248 parameters", "LLaMA-3-70B: 70,553,706,496 parameters",
                        "1 GB = 1 GiB", "32 GPUs (4 nodes x 8)", "micro-batch 2 x cutoff_len 4096",
                        "bf16 autocast over fp32 weights", " trans ", "trans = transient buffers",
                        "deepspeed: deepspeed/ds_z3_offload_config.json", "* zero3 offload opt+params",
                        "=> configured setting (zero3, checkpointing on): fits",
                        "=> configured setting (zero3 + offload_optimizer=cpu + offload_params=cpu, checkpointing on): fits"}) {
    EXPECT_NE(out.find(s), std::string::npos) << s << "\n" << out;
  }
  // Planning from a laptop: the model folders are absent, so the output says the shape is built in.
  if (!std::filesystem::exists("/models/Meta-Llama-3-8B")) {
    EXPECT_NE(out.find("built-in LLaMA-3-8B shape"), std::string::npos) << out;
  }
}

TEST(PlanCli, BadInput) {
  std::string out;
  EXPECT_EQ(run_command(packbench_bin() + " plan --config " + paper() + " --gpu-memory 80 2>&1", &out), 1) << out;
  EXPECT_NE(out.find("--gpu-memory: '80' has no unit"), std::string::npos) << out;
  EXPECT_EQ(run_command(packbench_bin() + " plan --config " + paper() + " --cpu-memory 1PB 2>&1", &out), 1) << out;
  EXPECT_NE(out.find("--cpu-memory: '1PB'"), std::string::npos) << out;

  const std::string dir = packbench::testing::temp_dir("plan-cli");
  packbench::write_file_atomic(dir + "/s.yaml",
                               "name: s\nmethods: [padding]\nmodels:\n  - {name: Mystery-7B, path: /nonexistent/m}\n"
                               "datasets:\n  - {name: d, dataset_dir: data}\n");
  EXPECT_EQ(run_command(packbench_bin() + " plan --config " + dir + "/s.yaml 2>&1", &out), 1) << out;
  EXPECT_NE(out.find("models[0]: model 'Mystery-7B': no config.json at /nonexistent/m/config.json"), std::string::npos)
      << out;
  // A built-in name on one node, sharding given as keys, with a conflicting ds_config.json rejected.
  packbench::write_file_atomic(
      dir + "/t.yaml",
      "name: t\nmethods: [padding]\nmodels:\n  - {name: Llama-3.2-1B-Instruct, path: /nonexistent/m, nproc: 4,\n"
      "     train: {sharding: zero2, per_device_train_batch_size: 4, cutoff_len: 2048, bf16: true}}\n"
      "datasets:\n  - {name: d, dataset_dir: data}\n");
  const json doc = plan_json("--config " + dir + "/t.yaml");
  const json& m = doc["models"][0];
  EXPECT_EQ(m["total_params"], 1235814400);  // LLaMA-3.2-1B: tied embeddings counted once
  EXPECT_EQ(m["world_size"], 4);
  EXPECT_EQ(m["configured"]["sharding"], "zero2");
  EXPECT_TRUE(row(m, "zero2", "none", "none", true)["fits"]);
  // Checkpointing off in the config: zero3 switches it on, and the plan says so.
  packbench::write_file_atomic(
      dir + "/g.yaml",
      "name: g\nmethods: [padding]\nmodels:\n  - {name: LLaMA-3-8B, path: /nonexistent/m, nproc: 8,\n"
      "     train: {sharding: zero3, per_device_train_batch_size: 2, bf16: true, gradient_checkpointing: false}}\n"
      "datasets:\n  - {name: d, dataset_dir: data}\n");
  const json g = plan_json("--config " + dir + "/g.yaml")["models"][0];
  EXPECT_EQ(g["gradient_checkpointing"], false);
  const json& off = row(g, "zero3", "none", "none", false);
  EXPECT_TRUE(off["gradient_checkpointing_forced"]);
  EXPECT_TRUE(off["gradient_checkpointing_planned"]);
  EXPECT_EQ(off["device_total_bytes"], row(g, "zero3", "none", "none", true)["device_total_bytes"]);
  EXPECT_FALSE(row(g, "zero2", "none", "none", false)["gradient_checkpointing_planned"]);  // honoured below zero3
  EXPECT_GT(row(g, "zero2", "none", "none", false)["device_total_bytes"].get<int64_t>(),
            row(g, "zero2", "none", "none", true)["device_total_bytes"].get<int64_t>());
  EXPECT_EQ(g["configured_fits"], off["fits"]);
  ASSERT_EQ(run_command(packbench_bin() + " plan --config " + dir + "/g.yaml 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("gradient checkpointing off (gradient_checkpointing); zero3 switches it on"), std::string::npos)
      << out;
  EXPECT_NE(out.find("=> configured setting (zero3, checkpointing on)"), std::string::npos) << out;
  packbench::write_file_atomic(dir + "/ds.json", "{\"train_micro_batch_size_per_gpu\": 2}");
  packbench::write_file_atomic(
      dir + "/u.yaml",
      "name: u\nmethods: [padding]\nmodels:\n  - {name: LLaMA-3.2-3B, path: /nonexistent/m, nproc: 2,\n"
      "     train: {deepspeed: ds.json, per_device_train_batch_size: 4}}\n"
      "datasets:\n  - {name: d, dataset_dir: data}\n");
  EXPECT_EQ(run_command(packbench_bin() + " plan --config " + dir + "/u.yaml 2>&1", &out), 1) << out;
  EXPECT_NE(out.find("train_micro_batch_size_per_gpu=2 conflicts with the training config's per_device_train_batch_size=4"),
            std::string::npos)
      << out;
}
