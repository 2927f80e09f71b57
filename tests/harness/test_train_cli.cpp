// `packbench train` and `packbench launch` end to end on a tiny model and a rows file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>

#include "datasets/atomic_file.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
namespace pb = packbench;

namespace {

// 24 rows of 1-3 samples each for the tiny reference LLaMA (vocab 64).
std::string write_rows(const std::string& dir) {
  std::mt19937 g(3);
  std::string text;
  for (int i = 0; i < 24; ++i) {
    nlohmann::json ids = nlohmann::json::array(), labels = nlohmann::json::array(), offs = {0};
    const int segs = 1 + static_cast<int>(g() % 3);
    for (int s = 0; s < segs; ++s) {
      const int p = 2 + static_cast<int>(g() % 4), a = 1 + static_cast<int>(g() % 6);
      for (int t = 0; t < p + a; ++t) {
        const int id = 4 + static_cast<int>(g() % 60);
        ids.push_back(id);
        labels.push_back(t < p ? -100 : id);
      }
      offs.push_back(ids.size());
    }
    text += nlohmann::json{{"input_ids", ids}, {"labels", labels}, {"segment_offsets", offs}}.dump() + "\n";
  }
  pb::write_file_atomic(dir + "/rows.jsonl", text);
  return dir + "/rows.jsonl";
}

std::string base_args(const std::string& rows, const std::string& out) {
  return " --config " + pb::testing::source_dir() + "/configs/train/tiny_cpu.yaml model_name_or_path=" +
         pb::testing::source_dir() + "/tests/fixtures/llama_ref/untied rows_file=" + rows + " output_dir=" + out +
         " num_threads=1";
}

}  // namespace

TEST(TrainCli, TrainsWritesHuggingFaceOutputsAndRefusesToOverwrite) {
  const std::string dir = pb::testing::temp_dir("train-cli");
  const std::string rows = write_rows(dir), out = dir + "/run";
  std::string log;
  ASSERT_EQ(pb::testing::run_command(pb::testing::packbench_bin() + " train" + base_args(rows, out), &log), 0) << log;
  EXPECT_NE(log.find("learning_rate:"), std::string::npos) << log;  // the resolved configuration
  for (const char* f : {"train_results.json", "trainer_state.json", "trainer_log.jsonl", "train_config.yaml",
                        "config.json", "model.safetensors"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  const auto r = nlohmann::json::parse(pb::read_file(out + "/train_results.json"));
  EXPECT_GT(r["train_runtime"].get<double>(), 0.0);
  EXPECT_EQ(r["train_rows"], 21);  // val_size 0.1 of 24 -> 3 eval rows
  EXPECT_TRUE(r.contains("eval_loss"));
  // A second run into the same folder is refused unless overwrite_output_dir.
  EXPECT_EQ(pb::testing::run_command(pb::testing::packbench_bin() + " train" + base_args(rows, out), &log), 1);
  EXPECT_NE(log.find("overwrite_output_dir"), std::string::npos) << log;
}

TEST(TrainCli, BadKeysAndValuesNameTheKey) {
  const std::string dir = pb::testing::temp_dir("train-cli-bad");
  const std::string rows = write_rows(dir);
  std::string log;
  EXPECT_NE(pb::testing::run_command(pb::testing::packbench_bin() + " train" + base_args(rows, dir + "/o") +
                                         " learning_rat=1e-3", &log), 0);
  EXPECT_NE(log.find("learning_rat"), std::string::npos) << log;
  EXPECT_NE(pb::testing::run_command(pb::testing::packbench_bin() + " train" + base_args(rows, dir + "/o") +
                                         " seed=abc", &log), 0);
  EXPECT_NE(log.find("'seed'"), std::string::npos) << log;
}

TEST(TrainCli, LaunchRunsTwoRanks) {
  const std::string dir = pb::testing::temp_dir("train-cli-launch");
  const std::string rows = write_rows(dir), out = dir + "/run";
  std::string log;
  ASSERT_EQ(pb::testing::run_command(pb::testing::packbench_bin() + " launch --nproc 2 -- train" + base_args(rows, out), &log), 0)
      << log;
  const auto r = nlohmann::json::parse(pb::read_file(out + "/train_results.json"));
  EXPECT_EQ(r["world_size"], 2);
}
