// BBH end to end on fixtures: the cot-prompts 3-shot prompt, "the answer is" extraction, micro average.
#include <gtest/gtest.h>

#include <fstream>

#include "evals/bbh/task_bbh.h"
#include "tests/common/test_paths.h"
#include "tests/evals/fake_lm.h"

using namespace packbench::evals;
using packbench::evals::testing::FakeModel;

namespace {
std::string data() { return packbench::testing::fixtures_dir() + "/evals/bbh"; }
}  // namespace

TEST(BbhTask, PromptIsCotPromptThenQuestion) {
  auto task = prepare_bbh(data(), true);
  ASSERT_EQ(task.docs.size(), 3u);
  const auto& p = task.docs[0].prompt;
  EXPECT_EQ(p.substr(0, 52), "Evaluate the result of a random Boolean expression.\n");
  const std::string end = "not False = True. So the answer is True.\n\nQ: not ( True ) and ( True ) is\nA: Let's think step by step.";
  EXPECT_EQ(p.substr(p.size() - end.size()), end);
  EXPECT_EQ(task.docs[2].subtask, "sports_understanding");
}

TEST(BbhTask, GoldOneGarbageZeroMicroAverage) {
  auto task = prepare_bbh(data(), true);
  std::map<std::string, std::string> gold;
  for (const auto& d : task.docs) gold[d.prompt] = "\nReasoning. So the answer is " + d.target + ".";
  FakeModel m;
  m.rule = [&](const GenerationRequest& r) { return gold.at(r.context); };
  RunOptions opt;
  opt.data_path = data();
  auto s = run_bbh(m, opt);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,get-answer"].get<double>(), 1.0);
  ASSERT_EQ(s.subtasks.size(), 2u);
  EXPECT_EQ(s.subtasks[1].task, "bbh_cot_fewshot_sports_understanding");
  EXPECT_EQ(m.seen[0].until, (std::vector<std::string>{"</s>", "Q:", "\n\n"}));

  // right on the 2 boolean_expressions docs only: micro 2/3, macro (1 + 0) / 2
  FakeModel half;
  half.rule = [](const GenerationRequest& r) {
    return std::string(r.context.find("Boolean") != std::string::npos ? "So the answer is " : "So the answer is x")
               + (r.context.find("not ( True ) and") != std::string::npos ? "False." : "True.");
  };
  auto h = run_bbh(half, opt);
  EXPECT_NEAR(h.metrics["exact_match,get-answer"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(h.metrics["exact_match_macro,get-answer"].get<double>(), 0.5);

  FakeModel garbage;
  garbage.rule = [](const GenerationRequest&) { return std::string("I am not sure."); };
  EXPECT_DOUBLE_EQ(run_bbh(garbage, opt).metrics["exact_match,get-answer"].get<double>(), 0.0);
}

TEST(BbhTask, LmEvalSampleFilesFindTheirTaskByInput) {
  const std::string dir = packbench::testing::temp_dir("bbh-score");
  {
    std::ofstream f(dir + "/samples_bbh_cot_fewshot_sports_understanding.jsonl");
    f << nlohmann::json({{"doc_id", 0},
                         {"doc", {{"input", "Is the following sentence plausible? \"Joao Moutinho caught the screen pass.\""},
                                  {"target", "no"}}},
                         {"resps", {{"He plays soccer. So the answer is no."}}}})
             .dump()
      << "\n";
    f << nlohmann::json({{"doc_id", 1}, {"task", "bbh_cot_fewshot_boolean_expressions"}, {"response", "So the answer is False."}})
             .dump()
      << "\n";
  }
  ScoreRequest req;
  req.responses_path = dir + "/samples_bbh_cot_fewshot_sports_understanding.jsonl";
  req.data_path = data();
  auto s = score_bbh(req);
  EXPECT_EQ(s.n_samples, 2);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,get-answer"].get<double>(), 0.5);  // doc 1 of boolean_expressions is True
}
