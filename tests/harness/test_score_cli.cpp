// `packbench score` through the binary: each task on fixtures, output files, and clear errors for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using packbench::testing::fixtures_dir;
using packbench::testing::packbench_bin;
using packbench::testing::run_command;
using packbench::testing::temp_dir;

using packbench::testing::write_text;

namespace {
std::string fx(const std::string& p) { return fixtures_dir() + "/evals/" + p; }
}  // namespace

TEST(ScoreCli, Gsm8kWritesSamplesAndResults) {
  const auto dir = temp_dir("cli-gsm8k");
  auto r = write_text(dir, "r.jsonl",
                 "{\"doc_id\": 2, \"response\": \"5 - 8 = -3\\n#### -3\"}\n"
                 "{\"doc_id\": 0, \"response\": \"It is 60.\"}\n");
  std::string out;
  ASSERT_EQ(run_command(packbench_bin() + " score --task gsm8k --responses " + r + " --data " + fx("gsm8k") +
                            " --out " + dir + "/out",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("strict-match"), std::string::npos) << out;
  EXPECT_NE(out.find("0.5000"), std::string::npos) << out;
  EXPECT_NE(out.find("2 responses scored"), std::string::npos) << out;
  auto results = nlohmann::json::parse(packbench::read_file(dir + "/out/results.json"));
  EXPECT_EQ(results["results"]["gsm8k"]["exact_match,strict-match"], 0.5);
  EXPECT_EQ(results["results"]["gsm8k"]["exact_match,flexible-extract"], 1.0);
  EXPECT_TRUE(results["results"]["gsm8k"].contains("exact_match_stderr,strict-match"));
  EXPECT_EQ(results["n-shot"]["gsm8k"], 4);
  EXPECT_EQ(results["n-samples"]["gsm8k"]["effective"], 2);
  EXPECT_EQ(results["versions"]["gsm8k"], 3);
  EXPECT_EQ(results["configs"]["gsm8k"]["num_fewshot"], 4);
  std::string samples = packbench::read_file(dir + "/out/samples.jsonl");
  auto first = nlohmann::json::parse(samples.substr(0, samples.find('\n')));
  EXPECT_EQ(first["doc_id"], 2);  // input order
  EXPECT_EQ(first["exact_match,strict-match"], 1.0);
}

TEST(ScoreCli, MmluMathBbhAndTheMathAlias) {
  const auto dir = temp_dir("cli-tasks");
  std::string out;
  auto mmlu = write_text(dir, "mmlu.jsonl", "{\"doc_id\": 0, \"response\": \"B\"}\n{\"doc_id\": 4, \"response\": \"B\"}\n");
  ASSERT_EQ(run_command(packbench_bin() + " score --task mmlu --responses " + mmlu + " --data " + fx("mmlu"), &out), 0) << out;
  EXPECT_NE(out.find("acc"), std::string::npos) << out;
  EXPECT_NE(out.find("1.0000"), std::string::npos) << out;
  EXPECT_NE(out.find(" - mmlu_astronomy"), std::string::npos) << out;

  auto math = write_text(dir, "math.jsonl", "{\"doc_id\": 1, \"response\": \"$\\\\boxed{0.75}$\"}\n");
  ASSERT_EQ(run_command(packbench_bin() + " score --task minerva_math --responses " + math + " --data " + fx("math"), &out), 0)
      << out;
  EXPECT_NE(out.find("minerva_math"), std::string::npos) << out;
  EXPECT_NE(out.find("1.0000"), std::string::npos) << out;

  auto bbh = write_text(dir, "bbh.jsonl", "{\"doc_id\": 0, \"response\": \"So the answer is False.\"}\n");
  ASSERT_EQ(run_command(packbench_bin() + " score --task bbh --responses " + bbh + " --data " + fx("bbh"), &out), 0) << out;
  EXPECT_NE(out.find("get-answer"), std::string::npos) << out;
}

TEST(ScoreCli, IfevalAndHumanevalDispatchToTheirScorers) {
  const auto dir = temp_dir("cli-dispatch");
  const std::string f = fixtures_dir();
  std::string out;
  ASSERT_EQ(run_command(packbench_bin() + " score --task ifeval --responses " + f + "/ifeval/responses_small.jsonl --data " +
                            f + "/ifeval/input_data_small.jsonl --out " + dir + "/ifeval",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("prompt_level_strict_acc"), std::string::npos) << out;
  auto r = nlohmann::json::parse(packbench::read_file(dir + "/ifeval/results.json"));
  EXPECT_TRUE(r["results"]["ifeval"].contains("prompt_level_strict_acc,none")) << r.dump();
  ASSERT_EQ(run_command(packbench_bin() + " score --task humaneval --responses " + f + "/humaneval/samples.jsonl --data " +
                            f + "/humaneval/HumanEval.jsonl --out " + dir + "/humaneval",
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("pass@1"), std::string::npos) << out;
  r = nlohmann::json::parse(packbench::read_file(dir + "/humaneval/results.json"));
  EXPECT_TRUE(r["results"].contains("humaneval")) << r.dump();
  EXPECT_TRUE(std::filesystem::exists(dir + "/humaneval/samples.jsonl"));
}

TEST(ScoreCli, BadInputFailsWithTheFileAndRecord) {
  const auto dir = temp_dir("cli-bad");
  std::string out;
  EXPECT_EQ(run_command(packbench_bin() + " score --task gsm8k --responses " + dir + "/missing.jsonl --data " + fx("gsm8k"), &out), 1);
  EXPECT_NE(out.find("missing.jsonl: responses file not found"), std::string::npos) << out;

  auto bad = write_text(dir, "bad.jsonl", "{\"doc_id\": 0, \"response\": \"1\"}\n{\"doc_id\": 1}\n");
  EXPECT_EQ(run_command(packbench_bin() + " score --task gsm8k --responses " + bad + " --data " + fx("gsm8k"), &out), 1);
  EXPECT_NE(out.find("bad.jsonl:2: missing field 'response'"), std::string::npos) << out;

  auto torn = write_text(dir, "torn.jsonl", "{\"doc_id\": 0, \"resp");
  EXPECT_EQ(run_command(packbench_bin() + " score --task bbh --responses " + torn + " --data " + fx("bbh"), &out), 1);
  EXPECT_NE(out.find("torn.jsonl: line 1: not valid JSON"), std::string::npos) << out;

  EXPECT_EQ(run_command(packbench_bin() + " score --task hellaswag --responses " + bad, &out), 1);
  EXPECT_NE(out.find("unknown task 'hellaswag'"), std::string::npos) << out;

  EXPECT_NE(run_command(packbench_bin() + " score --task gsm8k", &out), 0);  // --responses is required
  EXPECT_NE(out.find("--responses"), std::string::npos) << out;

  EXPECT_EQ(run_command(packbench_bin() + " score --task gsm8k --responses " + bad + " --data " + dir + "/nowhere", &out), 1);
  EXPECT_NE(out.find("GSM8K data not found"), std::string::npos) << out;
}
