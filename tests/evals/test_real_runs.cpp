// In-process runs on the real benchmark files with fake models: real prompts, gold -> 100%, garbage -> 0%.
#include <gtest/gtest.h>

#include "evals/bbh/task_bbh.h"
#include "evals/gsm8k/task_gsm8k.h"
#include "evals/math/task_math.h"
#include "evals/mmlu/task_mmlu.h"
#include "tests/common/test_paths.h"
#include "tests/evals/fake_lm.h"

using namespace packbench::evals;
using packbench::evals::testing::FakeModel;

namespace {
// A model that answers each prompt from a table built with the task's own prompts.
FakeModel table_model(const PreparedTask& task, const std::function<std::string(const TaskDoc&)>& answer) {
  auto table = std::make_shared<std::map<std::string, std::string>>();
  for (const auto& d : task.docs) (*table)[d.prompt] = answer(d);
  FakeModel m;
  m.rule = [table](const GenerationRequest& r) { return table->at(r.context); };
  return m;
}
FakeModel garbage_model() {
  FakeModel m;
  m.rule = [](const GenerationRequest&) { return std::string("I cannot tell. #### 0.123 The answer is nothing."); };
  return m;
}
}  // namespace

TEST(RealRuns, Gsm8kGoldAndGarbage) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_gsm8k(shared + "/gsm8k", true);
  EXPECT_EQ(task.docs[0].prompt.rfind("Question: Natalia sold clips", 0), 0u);  // train[0] opens the prompt
  auto gold = table_model(task, [](const TaskDoc& d) { return " " + d.target; });
  RunOptions opt;
  opt.data_path = shared + "/gsm8k";
  opt.limit = 50;
  EXPECT_DOUBLE_EQ(run_gsm8k(gold, opt).metrics["exact_match,strict-match"].get<double>(), 1.0);
  auto bad = garbage_model();
  EXPECT_DOUBLE_EQ(run_gsm8k(bad, opt).metrics["exact_match,flexible-extract"].get<double>(), 0.0);
}

TEST(RealRuns, MathGoldAndGarbage) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_math(shared + "/math", true);
  auto gold = table_model(task, [](const TaskDoc& d) {
    return "\n" + d.doc["solution"].get<std::string>() + "\nFinal Answer: The final answer is $" + d.target +
           "$. I hope it is correct.";
  });
  RunOptions opt;
  opt.data_path = shared + "/math";
  opt.limit = 5;  // per subject
  auto s = run_math(gold, opt);
  EXPECT_EQ(s.n_samples, 35);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,none"].get<double>(), 1.0);
  auto bad = garbage_model();
  EXPECT_DOUBLE_EQ(run_math(bad, opt).metrics["exact_match,none"].get<double>(), 0.0);
}

TEST(RealRuns, BbhGoldAndGarbage) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_bbh(shared + "/bbh", true);
  EXPECT_EQ(task.docs[0].prompt.rfind("Evaluate the result of a random Boolean expression.\n\nQ: ", 0), 0u);
  auto gold = table_model(task, [](const TaskDoc& d) { return "\nThinking. So the answer is " + d.target + "."; });
  RunOptions opt;
  opt.data_path = shared + "/bbh";
  opt.limit = 2;  // per BBH task
  auto s = run_bbh(gold, opt);
  EXPECT_EQ(s.n_samples, 54);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,get-answer"].get<double>(), 1.0);
  auto bad = garbage_model();
  EXPECT_DOUBLE_EQ(run_bbh(bad, opt).metrics["exact_match,get-answer"].get<double>(), 0.0);
}

TEST(RealRuns, MmluGoldLetterHasTheHighestLikelihood) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_mmlu(shared + "/mmlu", true);
  auto gold = std::make_shared<std::map<std::string, int>>();
  for (const auto& d : task.docs) (*gold)[d.prompt] = d.gold;
  FakeModel m;
  m.ll = [gold](const LoglikelihoodRequest& r) {
    return r.continuation == std::string(" ") + static_cast<char>('A' + gold->at(r.context)) ? -0.2 : -3.0;
  };
  RunOptions opt;
  opt.data_path = shared + "/mmlu";
  opt.limit = 2;  // per subject
  auto s = run_mmlu(m, opt);
  EXPECT_EQ(s.n_samples, 114);
  EXPECT_DOUBLE_EQ(s.metrics["acc,none"].get<double>(), 1.0);
  FakeModel flat;
  flat.ll = [](const LoglikelihoodRequest& r) { return r.continuation == " A" ? -1.0 : -2.0; };  // always A
  auto a = run_mmlu(flat, opt);
  int gold_a = 0;
  std::map<std::string, int> per_subject;
  for (const auto& d : task.docs) {
    if (per_subject[d.subtask]++ < 2 && d.gold == 0) ++gold_a;
  }
  EXPECT_DOUBLE_EQ(a.metrics["acc,none"].get<double>(), gold_a / 114.0);  // exactly the questions whose key is A
}
