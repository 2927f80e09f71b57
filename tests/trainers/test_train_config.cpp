// Training configuration: YAML + overrides, LLaMA-Factory aliases, errors naming file and key.
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/common/test_paths.h"
#include "trainers/train_config.h"

using namespace packbench;
using namespace packbench::train;

namespace {

std::string write_yaml(const std::string& text) {
  const std::string path = packbench::testing::temp_dir("train-config") + "/cfg.yaml";
  write_file_atomic(path, text);
  return path;
}

std::string error_of(const std::string& path, const std::vector<std::string>& ov) {
  try {
    load_train_config(path, ov);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TrainConfig, ReadsLlamaFactoryKeysAndOverrides) {
  const std::string path = write_yaml(
      "model_name_or_path: /models/llama3\nstage: sft\ndo_train: true\nfinetuning_type: full\n"
      "dataset: alpaca_en\ntemplate: llama3\ncutoff_len: 4096\nlearning_rate: 1.0e-5\n"
      "num_train_epochs: 4.0\nper_device_train_batch_size: 2\ngradient_accumulation_steps: 2\n"
      "lr_scheduler_type: cosine\nwarmup_ratio: 0.2\nbf16: true\nval_size: 0.1\n"
      "output_dir: out\npacking: true\npacking_style: full-no-cut\nreport_to: none\n");
  const TrainConfig c = load_train_config(path, {"learning_rate=2e-5", "seed=7"});
  EXPECT_EQ(c.model_name_or_path, "/models/llama3");
  EXPECT_EQ(c.template_name, "llama3");
  EXPECT_DOUBLE_EQ(c.learning_rate, 2e-5);
  EXPECT_DOUBLE_EQ(c.num_train_epochs, 4.0);
  EXPECT_EQ(c.per_device_train_batch_size, 2);
  EXPECT_EQ(c.lr_scheduler_type, "cosine");
  EXPECT_TRUE(c.bf16);
  EXPECT_EQ(c.seed, 7);
  EXPECT_EQ(c.row_method, "greedy");  // full-no-cut
  EXPECT_EQ(c.attention, "cross");
  // The saved YAML reads back to the same configuration.
  const TrainConfig again = load_train_config(write_yaml(c.to_yaml()), {});
  EXPECT_EQ(again.to_json(), c.to_json());
}

TEST(TrainConfig, PackingAliases) {
  const std::string base = write_yaml("model_name_or_path: m\noutput_dir: o\n");
  EXPECT_EQ(load_train_config(base, {"packing=true"}).row_method, "random");
  EXPECT_EQ(load_train_config(base, {"packing=false"}).row_method, "padding");
  const TrainConfig neat = load_train_config(base, {"neat_packing=true"});
  EXPECT_EQ(neat.row_method, "random");
  EXPECT_EQ(neat.attention, "block");
  EXPECT_EQ(load_train_config(base, {"row_method=bfd", "attention=block"}).row_method, "bfd");
  EXPECT_NE(error_of(base, {"row_method=padding", "packing=true"}).find("row_method"), std::string::npos);
}

TEST(TrainConfig, ErrorsNameTheFileAndKey) {
  const std::string path = write_yaml("model_name_or_path: m\noutput_dir: o\nlerning_rate: 1e-5\n");
  const std::string e = error_of(path, {});
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("lerning_rate"), std::string::npos) << e;
  const std::string ok = write_yaml("model_name_or_path: m\noutput_dir: o\n");
  EXPECT_NE(error_of(ok, {"per_device_train_batch_size=two"}).find("command line: key 'per_device_train_batch_size'"),
            std::string::npos);
  EXPECT_NE(error_of(ok, {"lr_scheduler_type=poly"}).find("lr_scheduler_type"), std::string::npos);
  EXPECT_NE(error_of(ok, {"warmup_ratio=1.5"}).find("warmup_ratio"), std::string::npos);
  EXPECT_NE(error_of(ok, {"stage=dpo"}).find("stage"), std::string::npos);
  EXPECT_NE(error_of(ok, {"novalue"}).find("key=value"), std::string::npos);
  EXPECT_NE(error_of(write_yaml("output_dir: o\n"), {}).find("model_name_or_path"), std::string::npos);
  EXPECT_NE(error_of(write_yaml("- a\n- b\n"), {}).find("mapping"), std::string::npos);
  EXPECT_NE(error_of(ok, {"attention=block"}).find("attention"), std::string::npos);  // padding rows
}
