// `packbench train`'s implementation end to end: YAML config + overrides, rows file, outputs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "datasets/atomic_file.h"
#include "datasets/error.h"
#include "tests/trainers/test_train_util.h"
#include "trainers/train_run.h"

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
