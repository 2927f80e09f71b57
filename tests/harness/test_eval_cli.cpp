// `packbench eval` on the project's small benchmark fixtures: every task, outputs, resume, errors.
#include <gtest/gtest.h>
#include <gmock/gmock.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "datasets/atomic_file.h"
#include "tests/common/test_paths.h"
#include "trainers/llama_model.h"
#include "trainers/pretrained.h"

namespace fs = std::filesystem;
namespace pt = packbench::testing;
using ::testing::HasSubstr;
using namespace packbench::train;

namespace {

int64_t count_lines(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line))
    if (!line.empty()) ++n;
  return n;
}

// A benchmark root laid out as the shared folder is, made of the fixtures.
fs::path fixture_root(const fs::path& dir) {
  const fs::path fx = pt::fixtures_dir();
  const fs::path root = dir / "benchmarks";
  fs::create_directories(root / "ifeval");
  for (const char* t : {"mmlu", "gsm8k", "math", "bbh"}) fs::create_directory_symlink(fx / "evals" / t, root / t);
  fs::create_directory_symlink(fx / "humaneval", root / "humaneval");
  fs::create_symlink(fx / "ifeval" / "input_data_small.jsonl", root / "ifeval" / "input_data.jsonl");
  return root;
}

fs::path tiny_checkpoint(const fs::path& dir) {
  const std::string tok = pt::fixtures_dir() + "/tokenizer/tiny";
  LlamaConfig c;
  c.vocab_size = 272;  // the tiny tokenizer's 268 tokens and its 4 added tokens
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = 4096;
  c.rope_scaling.reset();
  LlamaForCausalLM model(c);
  model->init_weights(5);
  SaveOptions so;
  so.dtype = torch::kFloat;
  so.tokenizer_dir = tok;
  save_pretrained(*model, (dir / "checkpoint").string(), so);
  return dir / "checkpoint";
}

TEST(EvalCli, FixturesThroughEveryTaskWithResume) {
  const fs::path dir = pt::temp_dir("eval_cli");
  const fs::path root = fixture_root(dir), ckpt = tiny_checkpoint(dir), out = dir / "eval";
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
  const fs::path ckpt = tiny_checkpoint(dir);
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

}  // namespace
