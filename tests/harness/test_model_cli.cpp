// `packbench model info | logits | init` end to end: the logits of the reference checkpoint
// match the PyTorch reference dump; init is deterministic per seed and loadable.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/atomic_file.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "tests/trainers/model/test_model_ref_dump.h"

namespace packbench {
using packbench::testing::read_npy;
using packbench::testing::run_packbench;

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string ref_dir(const std::string& model) { return testing::fixtures_dir() + "/llama_ref/" + model; }

TEST(ModelCli, InfoDescribesTheCheckpoint) {
  std::string out;
  ASSERT_EQ(run_packbench("model info " + ref_dir("untied"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("2 layers, hidden 32, intermediate 48, 4 heads (2 key/value, head_dim 8), vocab 64"));
  EXPECT_THAT(out, HasSubstr("19,616"));
  EXPECT_THAT(out, HasSubstr("F32: 21 tensors"));
  EXPECT_THAT(out, HasSubstr("scaling llama3"));
  EXPECT_THAT(out, HasSubstr("model.safetensors"));
  ASSERT_EQ(run_packbench("model info " + ref_dir("tied"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("17,568"));
  EXPECT_THAT(out, HasSubstr("tied to the embeddings"));
  EXPECT_EQ(run_packbench("model info " + testing::temp_dir("no_ckpt"), &out), 1);
  EXPECT_THAT(out, HasSubstr("config.json"));
}

TEST(ModelCli, LogitsMatchThePyTorchReference) {
  auto dump = testing::load_llama_ref(testing::fixtures_dir() + "/llama_ref/llama_ref.bin");
  const auto& ids = dump.at("untied/cross/input_ids").i;
  const auto& want = dump.at("untied/cross/logits");
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  const std::string npy = testing::temp_dir("cli_logits") + "/logits.npy";
  std::string out;
  ASSERT_EQ(run_packbench("model logits --checkpoint " + ref_dir("untied") + " --ids " + list + " --out " + npy + " --threads 1", &out), 0) << out;
  std::vector<int64_t> shape;
  std::vector<float> got = read_npy(npy, &shape);
  ASSERT_EQ(shape, (std::vector<int64_t>{static_cast<int64_t>(ids.size()), 64}));
  ASSERT_EQ(got.size(), want.f.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(double(got[i]) - want.f[i]));
  std::printf("model logits vs reference: max |diff| %.3g\n", worst);
  EXPECT_LT(worst, 2e-5);
  // bf16 weights: same shape, close values.
  ASSERT_EQ(run_packbench("model logits --checkpoint " + ref_dir("untied") + " --ids " + list + " --dtype bf16 --out " + npy + " --threads 1", &out), 0) << out;
  got = read_npy(npy, &shape);
  worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(double(got[i]) - want.f[i]));
  EXPECT_LT(worst, 0.5);
  // Bad ids name the item.
  EXPECT_EQ(run_packbench("model logits --checkpoint " + ref_dir("untied") + " --ids 1,x,3 --out " + npy, &out), 1);
  EXPECT_THAT(out, HasSubstr("--ids: item 1"));
  EXPECT_EQ(run_packbench("model logits --checkpoint " + ref_dir("untied") + " --ids 1,64 --out " + npy, &out), 1);
  EXPECT_THAT(out, HasSubstr("outside the vocabulary"));
}

TEST(ModelCli, InitWritesALoadableDeterministicCheckpoint) {
  const std::string tmp = testing::temp_dir("cli_init");
  write_file_atomic(tmp + "/tok/tokenizer.json", "{}");
  write_file_atomic(tmp + "/tok/tokenizer_config.json", "{}");
  const std::string cfg = ref_dir("tied") + "/config.json";
  std::string out;
  ASSERT_EQ(run_packbench("model init --config " + cfg + " --out " + tmp + "/a --seed 3 --dtype bf16 --tokenizer " + tmp + "/tok", &out), 0) << out;
  ASSERT_EQ(run_packbench("model init --config " + cfg + " --out " + tmp + "/b --seed 3 --dtype bf16", &out), 0) << out;
  ASSERT_EQ(run_packbench("model init --config " + cfg + " --out " + tmp + "/c --seed 4 --dtype bf16", &out), 0) << out;
  EXPECT_TRUE(fs::exists(tmp + "/a/tokenizer.json"));
  EXPECT_TRUE(fs::exists(tmp + "/a/generation_config.json"));
  EXPECT_FALSE(fs::exists(tmp + "/b/tokenizer.json"));
  EXPECT_EQ(read_file(tmp + "/a/model.safetensors"), read_file(tmp + "/b/model.safetensors"));
  EXPECT_NE(read_file(tmp + "/a/model.safetensors"), read_file(tmp + "/c/model.safetensors"));
  ASSERT_EQ(run_packbench("model info " + tmp + "/a", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("BF16: 20 tensors"));
  ASSERT_EQ(run_packbench("model logits --checkpoint " + tmp + "/a --ids 1,2,3 --out " + tmp + "/l.npy --threads 1", &out), 0) << out;
  std::vector<int64_t> shape;
  std::vector<float> v = read_npy(tmp + "/l.npy", &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 64}));
  for (float x : v) ASSERT_TRUE(std::isfinite(x));
}

}  // namespace
}  // namespace packbench

namespace packbench {
namespace {

// A checkpoint packbench writes (bf16, sharded) is read by the reference script's own
// safetensors reader, and its reference forward gives the logits `packbench model logits` gives.
TEST(ModelCli, SavedCheckpointReadsInTheIndependentReader) {
  PB_REQUIRE_VENV(py);
  const std::string tmp = testing::temp_dir("cli_pycheck");
  std::string cfg = read_file(ref_dir("untied") + "/config.json");
  const std::string from = "\"initializer_range\": 0.02";
  ASSERT_NE(cfg.find(from), std::string::npos);
  cfg.replace(cfg.find(from), from.size(), "\"initializer_range\": 0.5");  // logits far from zero
  write_file_atomic(tmp + "/config.json", cfg);
  std::string out;
  ASSERT_EQ(run_packbench("model init --config " + tmp + "/config.json --out " + tmp + "/ck --seed 8 --dtype bf16 --max-shard-mb 0.03", &out), 0) << out;
  ASSERT_TRUE(fs::exists(tmp + "/ck/model.safetensors.index.json"));
  const std::string ids = "5,9,33,2,60,17,17,40";
  ASSERT_EQ(run_packbench("model logits --checkpoint " + tmp + "/ck --ids " + ids + " --out " + tmp + "/l.npy --threads 1", &out), 0) << out;
  const int rc = testing::run_command(py + " " + testing::source_dir() + "/scripts/reference/llama_ref.py --check " +
                                          tmp + "/ck --ids " + ids + " --logits " + tmp + "/l.npy --tol 1e-4",
                                      &out);
  std::printf("%s", out.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("OK"));
}

}  // namespace
}  // namespace packbench
