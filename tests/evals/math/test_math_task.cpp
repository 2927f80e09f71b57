// MATH (minerva_math) end to end on fixtures: the Minerva prompt, gold and garbage models, subjects.
#include <gtest/gtest.h>

#include <fstream>

#include "evals/math/task_math.h"
#include "tests/common/test_paths.h"
#include "tests/evals/fake_lm.h"

using namespace packbench::evals;
using packbench::evals::testing::FakeModel;

namespace {
std::string data() { return packbench::testing::fixtures_dir() + "/evals/math"; }
}  // namespace

TEST(MathTask, MinervaPromptAndGoldAnswers) {
  auto task = prepare_math(data(), true);
  ASSERT_EQ(task.docs.size(), 3u);
  const auto& p = task.docs[0].prompt;
  EXPECT_EQ(p.rfind("Problem:\nFind the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}\n\nSolution:\nThe", 0), 0u);
  EXPECT_NE(p.find("Final Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct.\n\nProblem:\nSolve $2x = 10$.\n\nSolution:"),
            std::string::npos);
  EXPECT_EQ(p.substr(p.size() - 11), "\n\nSolution:");
  EXPECT_EQ(task.docs[0].target, "5");
  EXPECT_EQ(task.docs[1].target, "\\frac{3}{4}");
  EXPECT_EQ(task.docs[2].target, "(2,1)");
  EXPECT_EQ(task.docs[2].subtask, "Number Theory");
  EXPECT_EQ(math_subtask_name("Counting & Probability"), "minerva_math_counting_and_prob");
  EXPECT_EQ(math_subtask_name("Number Theory"), "minerva_math_num_theory");
}

TEST(MathTask, GoldModelOneGarbageZero) {
  // The gold model answers in Minerva's format but writes values differently from the key.
  const std::map<std::string, std::string> answers = {
      {"Solve $2x = 10$.", "x = 5"}, {"What is $\\frac{1}{2}+\\frac{1}{4}$?", "0.75"},
      {"Find the ordered pair $(a,b)$ with $a+b=3$ and $a-b=1$.", "\\left(2, 1\\right)"}};
  FakeModel gold;
  gold.rule = [&](const GenerationRequest& r) {
    for (const auto& [problem, ans] : answers) {
      const std::string tail = "Problem:\n" + problem + "\n\nSolution:";
      if (r.context.size() > tail.size() && r.context.compare(r.context.size() - tail.size(), tail.size(), tail) == 0)
        return "\nWork.\nFinal Answer: The final answer is $" + ans + "$. I hope it is correct.";
    }
    return std::string("?");
  };
  RunOptions opt;
  opt.data_path = data();
  auto s = run_math(gold, opt);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,none"].get<double>(), 1.0);
  ASSERT_EQ(s.subtasks.size(), 2u);
  EXPECT_EQ(s.subtasks[0].task, "minerva_math_algebra");
  EXPECT_EQ(gold.seen[0].until, (std::vector<std::string>{"Problem:"}));

  FakeModel garbage;
  garbage.rule = [](const GenerationRequest&) { return std::string("\nFinal Answer: The final answer is $7$. I hope it is correct."); };
  EXPECT_DOUBLE_EQ(run_math(garbage, opt).metrics["exact_match,none"].get<double>(), 0.0);
}

TEST(MathTask, ScoresSolutionsFromAFile) {
  const std::string dir = packbench::testing::temp_dir("math-score");
  {
    std::ofstream f(dir + "/r.jsonl");
    f << R"({"doc_id": 0, "response": "so $x=\\boxed{5}$"})" << "\n";
    f << R"({"doc_id": 1, "response": "Final Answer: The final answer is $\\dfrac34$. I hope it is correct."})" << "\n";
    f << R"({"doc_id": 2, "response": "Final Answer: The final answer is $(1,2)$. I hope it is correct."})" << "\n";
  }
  ScoreRequest req;
  req.responses_path = dir + "/r.jsonl";
  req.data_path = data();
  auto s = score_math(req);
  EXPECT_NEAR(s.metrics["exact_match,none"].get<double>(), 2.0 / 3, 1e-12);
}
