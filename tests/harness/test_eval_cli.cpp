// `packbench eval` on the project's small benchmark fixtures: every task, outputs, resume, errors.
#include <gtest/gtest.h>
#include <gmock/gmock.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "tests/common/test_files.h"
#include "tests/common/tiny_checkpoint.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
namespace pt = packbench::testing;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace packbench::train;

using packbench::testing::count_lines;

namespace {

TEST(EvalCli, FixturesThroughEveryTaskWithResume) {
  const fs::path dir = pt::temp_dir("eval_cli");
  const fs::path root = pt::fixture_benchmarks(dir, {"mmlu", "gsm8k", "math", "bbh", "humaneval", "ifeval"});
  const fs::path ckpt = pt::save_tiny_checkpoint((dir / "checkpoint").string()), out = dir / "eval";
  const std::string cmd = pt::packbench_bin() + " eval --checkpoint " + ckpt.string() +
                          " --tasks mmlu,gsm8k,math,bbh,ifeval,humaneval --limit 2 --batch-size 2"
                          " --max-new-tokens 8 --threads 1 --data-root " + root.string() + " --out " + out.string();
  std::string log;
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + cmd, &log), 0) << log;
  // Not fine-tuned (no trainer_state.json / train_results.json): auto leaves the template off.
  EXPECT_THAT(log, HasSubstr("chat template off (auto)"));
  auto all = nlohmann::json::parse(packbench::read_file((out / "results.json").string()));
  const std::map<std::string, std::string> tasks = {{"mmlu", "mmlu"}, {"gsm8k", "gsm8k"}, {"math", "minerva_math"},
                                                    {"bbh", "bbh"}, {"ifeval", "ifeval"}, {"humaneval", "humaneval"}};
  std::map<std::string, std::string> before;
  for (const auto& [task, key] : tasks) {
    SCOPED_TRACE(task);
    ASSERT_TRUE(all["results"].contains(key)) << all["results"].dump();
    const int64_t n = count_lines(out / task / "samples.jsonl");
    EXPECT_GE(n, 1);
    EXPECT_EQ(all["n-samples"][key]["effective"].get<int64_t>(), n);
    EXPECT_TRUE(fs::exists(out / task / "results.json"));
    before[task] = packbench::read_file((out / task / "samples.jsonl").string());
  }
  EXPECT_EQ(all["config"]["chat_template"], "off");
  EXPECT_EQ(all["config"]["add_bos"], true);
  EXPECT_GT(all["timings"]["gsm8k"]["generated_tokens"].get<int64_t>(), 0);
  EXPECT_LE(all["timings"]["gsm8k"]["generated_tokens"].get<int64_t>(), 2 * 8);
  EXPECT_GT(all["timings"]["mmlu"]["loglikelihood_requests"].get<int64_t>(), 0);

  // Interrupted run: drop the last line of gsm8k's samples; the rerun regenerates only that doc
  // and gets the same record (greedy decoding is deterministic).
  {
    std::string s = before["gsm8k"];
    size_t cut = s.rfind('\n', s.size() - 2);
    packbench::write_file_atomic((out / "gsm8k" / "samples.jsonl").string(), s.substr(0, cut + 1));
  }
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + cmd, &log), 0) << log;
  auto again = nlohmann::json::parse(packbench::read_file((out / "results.json").string()));
  for (const auto& [task, text] : before) {
    EXPECT_EQ(packbench::read_file((out / task / "samples.jsonl").string()), text) << task;
    EXPECT_EQ(again["results"][tasks.at(task)], all["results"][tasks.at(task)]) << task;
  }
  EXPECT_EQ(again["timings"]["mmlu"]["loglikelihood_requests"].get<int64_t>(), 0);
  EXPECT_GT(again["timings"]["gsm8k"]["generated_tokens"].get<int64_t>(), 0);
  EXPECT_LE(again["timings"]["gsm8k"]["generated_tokens"].get<int64_t>(), 8);
}

TEST(EvalCli, BadInputIsAClearError) {
  const fs::path dir = pt::temp_dir("eval_cli_bad");
  const fs::path ckpt = pt::save_tiny_checkpoint((dir / "checkpoint").string());
  std::string log;
  const std::string base = pt::packbench_bin() + " eval --checkpoint ";
  EXPECT_NE(pt::run_command(base + dir.string() + " --tasks mmlu", &log), 0);
  EXPECT_THAT(log, HasSubstr("not a checkpoint folder"));
  EXPECT_NE(pt::run_command(base + ckpt.string() + " --tasks mmlu,nosuch", &log), 0);
  EXPECT_THAT(log, HasSubstr("nosuch"));
  // The tiny tokenizer has none of the llama3 header tokens: the template cannot be used with it.
  EXPECT_NE(pt::run_command(base + ckpt.string() + " --tasks gsm8k --chat-template on --limit 1 --out " +
                                (dir / "o").string(), &log), 0);
  EXPECT_THAT(log, HasSubstr("template 'llama3_lf07'"));
  EXPECT_THAT(log, HasSubstr("not in the tokenizer's vocabulary"));
  EXPECT_NE(pt::run_command(base + ckpt.string() + " --tasks gsm8k --chat-template nosuch_template", &log), 0);
  EXPECT_THAT(log, HasSubstr("nosuch_template"));
  EXPECT_NE(pt::run_command(base + ckpt.string() + " --tasks gsm8k --device tpu", &log), 0);
  EXPECT_THAT(log, HasSubstr("--device"));
}

TEST(EvalCli, LimitPerTask) {
  const fs::path dir = pt::temp_dir("eval_cli_limits");
  const fs::path root = pt::fixture_benchmarks(dir, {"gsm8k", "ifeval"});
  const fs::path ckpt = pt::save_tiny_checkpoint((dir / "checkpoint").string()), out = dir / "eval";
  const std::string base = "PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --checkpoint " + ckpt.string() +
                           " --tasks gsm8k,ifeval --batch-size 2 --max-new-tokens 4 --threads 1 --data-root " +
                           root.string() + " --out " + out.string();
  std::string log;
  ASSERT_EQ(pt::run_command(base + " --limit gsm8k=1,ifeval=3", &log), 0) << log;
  EXPECT_EQ(count_lines(out / "gsm8k" / "samples.jsonl"), 1);
  EXPECT_EQ(count_lines(out / "ifeval" / "samples.jsonl"), 3);
  auto all = nlohmann::json::parse(packbench::read_file((out / "results.json").string()));
  EXPECT_EQ(all["config"]["limit"], (nlohmann::json{{"gsm8k", 1}, {"ifeval", 3}}));
  // A task the list leaves out gets every document: here gsm8k's whole fixture.
  fs::remove_all(out);
  ASSERT_EQ(pt::run_command(base + " --limit ifeval=1", &log), 0) << log;
  EXPECT_GT(count_lines(out / "gsm8k" / "samples.jsonl"), 1);
  EXPECT_EQ(count_lines(out / "ifeval" / "samples.jsonl"), 1);
  // Bad values fail before the model loads, naming the part.
  EXPECT_NE(pt::run_command(base + " --limit gsm8k=0", &log), 0);
  EXPECT_THAT(log, HasSubstr("--limit 'gsm8k=0': '0' is not an integer >= 1"));
  EXPECT_NE(pt::run_command(base + " --limit nosuch=1", &log), 0);
  EXPECT_THAT(log, HasSubstr("unknown task 'nosuch'"));
  EXPECT_NE(pt::run_command(base + " --limit gsm8k=1,gsm8k=2", &log), 0);
  EXPECT_THAT(log, HasSubstr("task 'gsm8k' is given twice"));
  std::string bad;
  EXPECT_NE(pt::run_command(base + " --limit two", &bad), 0);
  EXPECT_THAT(bad, HasSubstr("'two' is not an integer >= 1"));
  EXPECT_THAT(bad, Not(HasSubstr("eval: loading")));
}

}  // namespace
