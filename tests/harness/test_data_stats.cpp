// 'packbench data stats' through the binary: JSON keys, methods, errors and progress on stderr.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/common/test_paths.h"

using packbench::testing::run_command;

namespace {
std::string base_cmd(const std::string& tok, const std::string& cache) {
  return "PACKBENCH_PROGRESS=0 " + packbench::testing::packbench_bin() + " data stats --dataset-dir " +
         packbench::testing::fixtures_dir() + "/datasets --tokenizer " + tok + " --cache-dir " + cache;
}
// Runs a command with its stderr dropped (run_command itself merges stderr into the output).
int run_quiet(const std::string& cmd, std::string* out) { return run_command("(" + cmd + " 2>/dev/null)", out); }
}  // namespace

TEST(DataStats, JsonHasTheIssueKeysForEveryMethod) {
  PB_REQUIRE_LLAMA3(tok);
  std::string cache = packbench::testing::temp_dir("stats");
  for (const char* method : {"padding", "random", "greedy", "bfd"}) {
    std::string out;
    int rc = run_quiet(base_cmd(tok, cache) + " --dataset tiny_sharegpt,tiny_alpaca --method " + method +
                             " --cutoff 32 --global-batch 4 --per-device-batch 1 --val-size 2 --epochs 3 --json",
                         &out);
    ASSERT_EQ(rc, 0) << out;
    auto j = nlohmann::json::parse(out);
    for (const char* k : {"samples", "rows", "tokens", "trainable_tokens", "pad_tokens", "padding_fraction",
                          "truncated_samples", "dropped_samples", "steps_per_epoch", "total_steps"})
      EXPECT_TRUE(j.contains(k)) << method << " lacks " << k;
    EXPECT_EQ(j["samples"], 6) << method;
    EXPECT_EQ(j["total_steps"].get<int64_t>(), 3 * j["steps_per_epoch"].get<int64_t>());
    if (std::string(method) == "random") EXPECT_EQ(j["pad_tokens"], 0);
    if (std::string(method) == "padding") EXPECT_EQ(j["rows"], 6);
  }
}

TEST(DataStats, StepsFollowTheGlobalBatch) {
  PB_REQUIRE_LLAMA3(tok);
  std::string cache = packbench::testing::temp_dir("stats");
  std::string out;
  // 6 padding rows, 1 held out -> 5 train rows; per-device 1 x 1 GPU x accumulation 2 -> 5 // 2 = 2
  int rc = run_quiet(base_cmd(tok, cache) + " --dataset tiny_sharegpt,tiny_alpaca --method padding --cutoff 4096 "
                       "--global-batch 2 --per-device-batch 1 --grad-accum 2 --val-size 1.5 --epochs 1.5 --json",
                       &out);
  ASSERT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["rows"], 6);
  EXPECT_EQ(j["steps_per_epoch"], 2);
  EXPECT_EQ(j["total_steps"], 3);
}

TEST(DataStats, BadInputExitsOneWithTheRecord) {
  PB_REQUIRE_LLAMA3(tok);
  std::string cache = packbench::testing::temp_dir("stats");
  std::string out;
  int rc = run_command(base_cmd(tok, cache) + " --dataset bad_sharegpt --method greedy --cutoff 64 --global-batch 4", &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("bad_sharegpt.jsonl: record 1 (line 2): empty conversation"), std::string::npos) << out;
  out.clear();
  rc = run_quiet(base_cmd(tok, cache) + " --dataset bad_sharegpt --method greedy --cutoff 64 --global-batch 4 "
                   "--on-bad-record skip --val-size 0 --json",
                   &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["skipped_records"], 8);
  out.clear();
  rc = run_command(base_cmd(tok, cache) + " --dataset tiny_sharegpt --method greedy --cutoff 64 --global-batch 5", &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("not a multiple"), std::string::npos) << out;
}

TEST(DataStats, ProgressGoesToStderr) {
  PB_REQUIRE_LLAMA3(tok);
  std::string cache = packbench::testing::temp_dir("stats");
  std::string out;
  int rc = run_quiet("PACKBENCH_PROGRESS=1 " + packbench::testing::packbench_bin() + " data stats --dataset-dir " +
                           packbench::testing::fixtures_dir() + "/datasets --tokenizer " + tok + " --cache-dir " + cache +
                           " --dataset tiny_sharegpt --method padding --cutoff 64 --global-batch 4 --val-size 0 --json",
                       &out);
  ASSERT_EQ(rc, 0);
  EXPECT_NO_THROW(nlohmann::json::parse(out)) << out;
}

// --tokenizer takes the folder or its tokenizer.json, with the same result; a missing path or a
// folder without tokenizer.json is a clear error naming it.
TEST(DataStats, TokenizerIsAFolderOrItsFile) {
  PB_REQUIRE_LLAMA3(tok);
  const std::string args = " --dataset tiny_sharegpt --method greedy --cutoff 32 --global-batch 4 --per-device-batch 1 --json";
  std::string by_dir, by_file;
  ASSERT_EQ(run_quiet(base_cmd(tok, packbench::testing::temp_dir("stats-dir")) + args, &by_dir), 0) << by_dir;
  ASSERT_EQ(run_quiet(base_cmd(tok + "/tokenizer.json", packbench::testing::temp_dir("stats-file")) + args, &by_file), 0)
      << by_file;
  EXPECT_EQ(nlohmann::json::parse(by_dir)["tokens"], nlohmann::json::parse(by_file)["tokens"]);
  const std::string empty = packbench::testing::temp_dir("stats-empty");
  std::string out;
  EXPECT_NE(run_command(base_cmd(empty, empty) + args, &out), 0);
  EXPECT_NE(out.find(empty + ": no tokenizer.json"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(run_command(base_cmd(empty + "/nope.json", empty) + args, &out), 0);
  EXPECT_NE(out.find("nope.json: no tokenizer here"), std::string::npos) << out;
}
