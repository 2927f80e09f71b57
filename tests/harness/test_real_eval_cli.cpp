// `packbench eval` end to end: a tiny random LLaMA-3-vocabulary model through all six real benchmarks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "tests/common/test_files.h"
#include "tests/common/tiny_checkpoint.h"
#include "tests/common/test_paths.h"
#include "trainers/model/llama_model.h"
#include "trainers/model/pretrained.h"

namespace fs = std::filesystem;
namespace pt = packbench::testing;
using namespace packbench::train;

using packbench::testing::count_lines;

namespace {

TEST(RealEvalCli, TinyModelThroughEveryTaskThenResumes) {
  PB_REQUIRE_SHARED(shared);
  PB_REQUIRE_LLAMA3(tok_dir);
  ASSERT_TRUE(fs::exists(pt::packbench_bin())) << "build the packbench target first";
  const fs::path dir = pt::temp_dir("real_eval_cli");
  const fs::path ckpt = pt::save_tiny_checkpoint((dir / "checkpoint").string(), pt::tiny_llama3_config(), 3, tok_dir);
  // A fine-tuned checkpoint's run folder: --chat-template auto turns the template on.
  packbench::write_file_atomic((dir / "train_results.json").string(), "{}\n");

  const fs::path out = dir / "eval";
  const std::string cmd = pt::packbench_bin() + " eval --checkpoint " + ckpt.string() +
                          " --tasks mmlu,gsm8k,math,bbh,ifeval,humaneval --limit 2 --batch-size 4"
                          " --max-new-tokens 12 --threads 2 --data-root " + shared + " --out " + out.string();
  std::string log;
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + cmd, &log), 0) << log;
  EXPECT_NE(log.find("chat template llama3_lf07 (auto)"), std::string::npos) << log;

  auto all = nlohmann::json::parse(packbench::read_file((out / "results.json").string()));
  std::map<std::string, std::string> samples_before;
  // Task folder -> its name in results.json (MATH reports as lm-eval's minerva_math).
  const std::map<std::string, std::string> tasks = {{"mmlu", "mmlu"}, {"gsm8k", "gsm8k"}, {"math", "minerva_math"},
                                                    {"bbh", "bbh"}, {"ifeval", "ifeval"}, {"humaneval", "humaneval"}};
  for (const auto& [task, key] : tasks) {
    SCOPED_TRACE(task);
    ASSERT_TRUE(all["results"].contains(key)) << all["results"].dump();
    const fs::path samples = out / task / "samples.jsonl";
    ASSERT_TRUE(fs::exists(samples));
    ASSERT_TRUE(fs::exists(out / task / "results.json"));
    const int64_t n = count_lines(samples);
    EXPECT_GE(n, 2);
    EXPECT_EQ(all["n-samples"][key]["effective"].get<int64_t>(), n);
    samples_before[task] = packbench::read_file(samples.string());
    // Every record carries what the model said; generation tasks stop within 12 tokens.
    std::ifstream in(samples);
    std::string line;
    std::getline(in, line);
    auto rec = nlohmann::json::parse(line);
    EXPECT_TRUE(rec.contains("resps") || rec.contains("response") || rec.contains("completion")) << line;
  }
  EXPECT_EQ(count_lines(out / "mmlu" / "samples.jsonl"), 57 * 2) << "--limit applies per MMLU subject";
  EXPECT_EQ(all["config"]["chat_template"], "llama3_lf07");
  EXPECT_GT(all["timings"]["mmlu"]["loglikelihood_requests"].get<int64_t>(), 0);
  EXPECT_GT(all["timings"]["gsm8k"]["generated_tokens"].get<int64_t>(), 0);

  // Resume: a second run reuses every sample written and asks the model for nothing.
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + cmd, &log), 0) << log;
  auto again = nlohmann::json::parse(packbench::read_file((out / "results.json").string()));
  for (const auto& [task, before] : samples_before) {
    EXPECT_EQ(packbench::read_file((out / task / "samples.jsonl").string()), before) << task;
    EXPECT_EQ(again["results"][tasks.at(task)], all["results"][tasks.at(task)]) << task;
    EXPECT_EQ(again["timings"][task]["generated_tokens"].get<int64_t>(), 0) << task;
    EXPECT_EQ(again["timings"][task]["loglikelihood_requests"].get<int64_t>(), 0) << task;
  }

  // Bad input is a clear error.
  EXPECT_NE(pt::run_command(pt::packbench_bin() + " eval --checkpoint " + dir.string() + " --tasks mmlu", &log), 0);
  EXPECT_NE(log.find("not a checkpoint folder"), std::string::npos) << log;
  EXPECT_NE(pt::run_command(pt::packbench_bin() + " eval --checkpoint " + ckpt.string() + " --tasks nosuch", &log), 0);
  EXPECT_NE(log.find("nosuch"), std::string::npos) << log;
}

}  // namespace
