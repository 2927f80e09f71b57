// `packbench launch --nproc 2 -- train` through the binary: a study cell whose model asks for two
// ranks trains over Gloo and records world size 2; a failing rank makes launch fail and say which.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "tests/common/test_paths.h"

namespace packbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const char* kStudy = R"(name: launch
tokenizer: synth
tokenizer_vocab: 300
methods: [greedy]
attention: cross
models:
  - name: tiny
    nproc: 2
    init: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2,
           num_key_value_heads: 1, max_position_embeddings: 512, rope_theta: 10000.0}
    train: {per_device_train_batch_size: 2, gradient_accumulation_steps: 1, num_train_epochs: 1}
datasets:
  - name: synth_tiny
    synth: {samples: 48, seed: 3, max_turns: 1}
train:
  template: llama3_lf07
  cutoff_len: 128
  learning_rate: 1.0e-3
  lr_scheduler_type: cosine
  warmup_ratio: 0.1
  logging_steps: 1
  save_steps: 1000
  seed: 7
executor:
  type: local
)";

TEST(LaunchCli, ACellWithTwoRanksTrainsThroughLaunch) {
  const std::string dir = testing::temp_dir("launch_cli");
  write_file_atomic(dir + "/study.yaml", kStudy);
  std::string out;
  const int rc = testing::run_command("cd " + dir + " && PACKBENCH_PROGRESS=0 " + testing::packbench_bin() +
                                          " cell --config study.yaml --out runs --cell tiny__synth_tiny__greedy "
                                          "--stages data,train",
                                      &out);
  ASSERT_EQ(rc, 0) << out;
  const std::string results = dir + "/runs/tiny__synth_tiny__greedy/train/train_results.json";
  ASSERT_TRUE(fs::exists(results)) << out;
  const auto r = nlohmann::json::parse(read_file(results));
  EXPECT_EQ(r.at("world_size").get<int>(), 2);
  const double loss = r.at("train_loss").get<double>();
  EXPECT_TRUE(std::isfinite(loss) && loss > 0.0) << loss;
  // Rank 0 alone keeps the books: one trainer_state.json, one set of weights.
  EXPECT_TRUE(fs::exists(dir + "/runs/tiny__synth_tiny__greedy/train/trainer_state.json"));
  EXPECT_TRUE(fs::exists(dir + "/runs/tiny__synth_tiny__greedy/train/model.safetensors"));
}

// The paper's way of asking for ZeRO-3: LLaMA-Factory's `deepspeed:` key naming a DeepSpeed config
// beside the study file, run from another folder; the cell trains sharded over two ranks and
// writes a consolidated model.
TEST(LaunchCli, ACellWithADeepSpeedZero3ConfigTrainsSharded) {
  const std::string dir = testing::temp_dir("launch_cli_ds");
  std::string study = kStudy;
  const std::string train = "train: {per_device_train_batch_size: 2, gradient_accumulation_steps: 1, num_train_epochs: 1}";
  study.replace(study.find(train), train.size(),
                "train: {per_device_train_batch_size: 2, gradient_accumulation_steps: 1, num_train_epochs: 1,\n"
                "           deepspeed: deepspeed/ds_z3_config.json}");
  fs::create_directories(dir + "/study/deepspeed");
  write_file_atomic(dir + "/study/study.yaml", study);
  fs::copy_file(testing::source_dir() + "/configs/deepspeed/ds_z3_config.json", dir + "/study/deepspeed/ds_z3_config.json");
  std::string out;
  const int rc = testing::run_command("cd " + dir + " && PACKBENCH_PROGRESS=0 " + testing::packbench_bin() +
                                          " cell --config study/study.yaml --out runs --cell tiny__synth_tiny__greedy "
                                          "--stages data,train",
                                      &out);
  ASSERT_EQ(rc, 0) << out;
  const std::string train_dir = dir + "/runs/tiny__synth_tiny__greedy/train";
  const auto r = nlohmann::json::parse(read_file(train_dir + "/train_results.json"));
  EXPECT_EQ(r.at("sharding"), "zero3");
  EXPECT_EQ(r.at("world_size").get<int>(), 2);
  ASSERT_EQ(r.at("optimizer_state_bytes_per_rank").size(), 2u);
  EXPECT_TRUE(std::isfinite(r.at("train_loss").get<double>()));
  // The consolidated model reads back with every tensor at its full shape.
  EXPECT_EQ(testing::run_command(testing::packbench_bin() + " model info " + train_dir, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("1 layers, hidden 32, intermediate 64"));
}

TEST(LaunchCli, AFailingRankFailsTheLaunchAndIsNamed) {
  const std::string dir = testing::temp_dir("launch_cli_fail");
  std::string out;
  const int rc = testing::run_command(testing::packbench_bin() + " launch --nproc 2 -- train --config " + dir +
                                          "/no_such_config.yaml",
                                      &out);
  EXPECT_NE(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("no_such_config.yaml"));
  EXPECT_THAT(out, HasSubstr("rank"));
}

TEST(LaunchCli, TheCommandKeepsItsOrderAndOptionsWithoutDashDashAreAClearError) {
  std::string out;
  // The rank runs `tables --runs DIR --table 3` exactly: its own error names the folder.
  EXPECT_EQ(testing::run_command(testing::packbench_bin() + " launch --nproc 1 -- tables --runs /nonexistent_pb_runs --table 3", &out), 1);
  EXPECT_THAT(out, HasSubstr("/nonexistent_pb_runs: not a folder"));
  EXPECT_NE(testing::run_command(testing::packbench_bin() + " launch --nproc 1 tables --runs /nonexistent_pb_runs", &out), 0);
  EXPECT_THAT(out, HasSubstr("put -- before the command"));
}

TEST(LaunchCli, NprocMustBePositive) {
  std::string out;
  EXPECT_NE(testing::run_command(testing::packbench_bin() + " launch --nproc 0 -- train --config x.yaml", &out), 0);
}

}  // namespace
}  // namespace packbench
