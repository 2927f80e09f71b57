// `packbench train`'s implementation end to end: YAML config + overrides, rows file, outputs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/trainers/test_train_util.h"
#include "trainers/parallel/distributed.h"
#include "trainers/train_model.h"
#include "trainers/train_run.h"
#include "trainers/trainer.h"

namespace fs = std::filesystem;
namespace pb = packbench;
using namespace packbench::train;

namespace {

std::string write_rows(const std::string& dir, int n) {
  std::string text;
  for (const auto& r : testutil::make_rows(n, 3, 9))
    text += nlohmann::json{{"input_ids", r.input_ids}, {"labels", r.labels}, {"segment_offsets", r.segment_offsets}}
                .dump() +
            "\n";
  pb::write_file_atomic(dir + "/rows.jsonl", text);
  return dir + "/rows.jsonl";
}

std::vector<std::string> overrides(const std::string& rows, const std::string& out) {
  return {"model_name_or_path=" + testutil::tiny_llama_dir(), "rows_file=" + rows, "output_dir=" + out,
          "num_threads=1"};
}

}  // namespace

TEST(TrainRun, TrainsFromTheExampleConfigAndWritesOutputs) {
  const std::string dir = pb::testing::temp_dir("train-run");
  const std::string rows = write_rows(dir, 24), out = dir + "/run";
  const std::string config = pb::testing::source_dir() + "/configs/train/tiny_cpu.yaml";
  run_train_command(config, overrides(rows, out));
  for (const char* f : {"train_results.json", "trainer_state.json", "trainer_log.jsonl", "train_config.yaml",
                        "config.json", "model.safetensors"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  const auto r = nlohmann::json::parse(pb::read_file(out + "/train_results.json"));
  EXPECT_EQ(r["train_rows"], 21);  // val_size 0.1 of 24 rows: 3 held out
  EXPECT_TRUE(r.contains("eval_loss"));
  EXPECT_TRUE(r.contains("mfu"));
  EXPECT_GT(r["train_tokens_per_second"].get<double>(), 0.0);
  // The saved configuration reads back; a finished output_dir is not trained over.
  EXPECT_NE(pb::read_file(out + "/train_config.yaml").find("rows_file: " + rows), std::string::npos);
  try {
    run_train_command(config, overrides(rows, out));
    ADD_FAILURE() << "expected a refusal";
  } catch (const pb::Error& e) {
    EXPECT_NE(std::string(e.what()).find("overwrite_output_dir"), std::string::npos) << e.what();
  }
  auto ov = overrides(rows, out);
  ov.push_back("overwrite_output_dir=true");
  ov.push_back("max_steps=2");
  run_train_command(config, ov);
  EXPECT_EQ(nlohmann::json::parse(pb::read_file(out + "/trainer_state.json"))["global_step"], 2);
}

TEST(TrainRun, RowsFileErrorsNameTheLineAndField) {
  const std::string dir = pb::testing::temp_dir("train-run-bad");
  pb::write_file_atomic(dir + "/bad.jsonl", "{\"input_ids\": [1, 2, 3], \"labels\": [1, 2]}\n");
  try {
    read_rows_jsonl(dir + "/bad.jsonl", false);
    FAIL();
  } catch (const pb::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("line 1"), std::string::npos) << m;
    EXPECT_NE(m.find("labels"), std::string::npos) << m;
  }
  pb::write_file_atomic(dir + "/ok.jsonl", "{\"input_ids\": [5, 6, 7, 8], \"labels\": [-100, 6, -100, 8], "
                                           "\"segment_offsets\": [0, 2, 4]}\n");
  const auto rows = read_rows_jsonl(dir + "/ok.jsonl", true);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].position_ids, (std::vector<int32_t>{0, 1, 0, 1}));
}

namespace {

// The "dtype" fields of a safetensors header.
std::string safetensors_header(const std::string& path) {
  const std::string raw = pb::read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(raw[i]);
  return raw.substr(8, n);
}

}  // namespace

TEST(TrainRun, SaveDtypeNarrowsTheFinalModelButNotTheCheckpoints) {
  const std::string dir = pb::testing::temp_dir("train-save-dtype");
  const std::string rows = write_rows(dir, 16), out = dir + "/run";
  auto ov = overrides(rows, out);
  for (const char* o : {"save_dtype=bfloat16", "max_steps=2", "save_steps=1", "val_size=0"}) ov.push_back(o);
  run_train_command(pb::testing::source_dir() + "/configs/train/tiny_cpu.yaml", ov);
  const std::string final_header = safetensors_header(out + "/model.safetensors");
  EXPECT_NE(final_header.find("\"BF16\""), std::string::npos);
  EXPECT_EQ(final_header.find("\"F32\""), std::string::npos);
  EXPECT_NE(pb::read_file(out + "/config.json").find("\"torch_dtype\": \"bfloat16\""), std::string::npos);
  const std::string ckpt_header = safetensors_header(out + "/checkpoint-1/model.safetensors");
  EXPECT_NE(ckpt_header.find("\"F32\""), std::string::npos);
  EXPECT_EQ(ckpt_header.find("\"BF16\""), std::string::npos);
}

TEST(TrainRun, SaveDtypeIsChecked) {
  const std::string dir = pb::testing::temp_dir("train-save-dtype-bad");
  const std::string rows = write_rows(dir, 4), out = dir + "/run";
  auto ov = overrides(rows, out);
  ov.push_back("save_dtype=int8");
  try {
    run_train_command(pb::testing::source_dir() + "/configs/train/tiny_cpu.yaml", ov);
    ADD_FAILURE() << "expected an error";
  } catch (const pb::Error& e) {
    EXPECT_NE(std::string(e.what()).find("save_dtype"), std::string::npos) << e.what();
  }
}

TEST(TrainRun, ActivationCheckpointingTrainsTheSameModel) {
  const std::string dir = pb::testing::temp_dir("train-act-ckpt");
  TrainData data;
  data.train_rows = testutil::make_rows(12, 3, 21);
  std::vector<std::vector<double>> losses;
  std::vector<torch::Tensor> weights;
  for (bool ckpt : {false, true}) {
    TrainConfig cfg = testutil::tiny_config(dir + (ckpt ? "/ckpt" : "/plain"));
    cfg.gradient_checkpointing = ckpt;
    cfg.max_steps = 3;
    auto model = make_train_model(cfg, torch::kCPU);
    Distributed dist(DistEnv{}, torch::kCPU, std::chrono::milliseconds(10000));
    TrainHooks hooks;
    hooks.write_outputs = false;
    hooks.measure_gemm_ceiling = false;
    losses.push_back(run_training(cfg, *model, data, dist, hooks).step_losses);
    weights.push_back(model->named_parameters().front().second.detach().clone());
  }
  ASSERT_EQ(losses[0].size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(losses[0][i], losses[1][i], 1e-6 * std::abs(losses[0][i])) << "step " << i + 1;
  EXPECT_LT((weights[0] - weights[1]).abs().max().item<double>(), 1e-6);
  // It trained: the weights moved away from the initial ones.
  auto initial = make_train_model(testutil::tiny_config(dir + "/init"), torch::kCPU);
  EXPECT_GT((weights[0] - initial->named_parameters().front().second).abs().max().item<double>(), 1e-4);
}

// train_results.json's data_stats carry the run's own step counts (they were 0 from the rows file
// and the data pipeline alike): 32 rows, batch 2 x accumulation 2 on one rank = 8 steps an epoch.
TEST(TrainRun, DataStatsCarryTheRunsStepCounts) {
  const std::string dir = pb::testing::temp_dir("train-steps");
  const std::string rows = write_rows(dir, 32), out = dir + "/run";
  auto ov = overrides(rows, out);
  ov.push_back("val_size=0");
  ov.push_back("num_train_epochs=1");
  run_train_command(pb::testing::source_dir() + "/configs/train/tiny_cpu.yaml", ov);
  const auto r = nlohmann::json::parse(pb::read_file(out + "/train_results.json"));
  EXPECT_EQ(r["data_stats"]["steps_per_epoch"], 8);
  EXPECT_EQ(r["data_stats"]["total_steps"], 8);
  EXPECT_EQ(nlohmann::json::parse(pb::read_file(out + "/trainer_state.json"))["max_steps"], 8);
  ov.push_back("num_train_epochs=2.5");  // ceil(2.5 x 8), as the Hugging Face Trainer counts
  ov.push_back("overwrite_output_dir=true");
  run_train_command(pb::testing::source_dir() + "/configs/train/tiny_cpu.yaml", ov);
  EXPECT_EQ(nlohmann::json::parse(pb::read_file(out + "/train_results.json"))["data_stats"]["total_steps"], 20);
}
