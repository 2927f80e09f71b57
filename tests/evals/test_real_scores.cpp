// Real benchmark files scored from responses: gold MATH solutions, BBH targets and MMLU letters score 100%.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include "evals/loaders.h"
#include "evals/bbh/task_bbh.h"
#include "evals/math/task_math.h"
#include "evals/mmlu/task_mmlu.h"
#include "tests/common/test_paths.h"

using namespace packbench::evals;

TEST(RealMathScore, GoldSolutionsScoreOneHundredPercent) {
  PB_REQUIRE_SHARED(shared);
  auto docs = load_math(shared + "/math", "test");
  const std::string dir = packbench::testing::temp_dir("real-math");
  {
    std::ofstream f(dir + "/r.jsonl");
    for (size_t i = 0; i < docs.size(); ++i)
      f << nlohmann::json({{"doc_id", i}, {"response", docs[i].solution}}).dump() << "\n";
  }
  ScoreRequest req;
  req.responses_path = dir + "/r.jsonl";
  req.data_path = shared + "/math";
  auto s = score_math(req);
  EXPECT_EQ(s.n_samples, 5000);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,none"].get<double>(), 1.0);
  EXPECT_EQ(s.subtasks.size(), 7u);
}

TEST(RealMathScore, MinervaFormattedGoldAnswersScoreOneHundredPercent) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_math(shared + "/math", false);
  const std::string dir = packbench::testing::temp_dir("real-math-fa");
  {
    std::ofstream f(dir + "/r.jsonl");
    for (const auto& d : task.docs) {
      auto boxed = d.doc["solution"].get<std::string>();
      f << nlohmann::json({{"doc_id", d.doc_id},
                           {"response", "Final Answer: The final answer is $" + d.target + "$. I hope it is correct."}})
               .dump()
        << "\n";
    }
  }
  ScoreRequest req;
  req.responses_path = dir + "/r.jsonl";
  req.data_path = shared + "/math";
  EXPECT_DOUBLE_EQ(score_math(req).metrics["exact_match,none"].get<double>(), 1.0);
}

TEST(RealBbhScore, TargetsScoreOneHundredPercent) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_bbh(shared + "/bbh", false);
  const std::string dir = packbench::testing::temp_dir("real-bbh");
  {
    std::ofstream f(dir + "/r.jsonl");
    for (const auto& d : task.docs)
      f << nlohmann::json({{"doc_id", d.doc_id}, {"response", "Let me think. So the answer is " + d.target + "."}}).dump()
        << "\n";
  }
  ScoreRequest req;
  req.responses_path = dir + "/r.jsonl";
  req.data_path = shared + "/bbh";
  auto s = score_bbh(req);
  EXPECT_EQ(s.n_samples, 6511);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,get-answer"].get<double>(), 1.0);
  EXPECT_EQ(s.subtasks.size(), 27u);
}

TEST(RealMmluScore, GoldLettersScoreOneHundredPercentAndPromptsBuild) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_mmlu(shared + "/mmlu", true);
  ASSERT_EQ(task.docs.size(), 14079u);
  EXPECT_EQ(task.docs[0].prompt.rfind("The following are multiple choice questions (with answers) about abstract algebra.\n\n", 0), 0u);
  const std::string dir = packbench::testing::temp_dir("real-mmlu");
  {
    std::ofstream f(dir + "/r.jsonl");
    for (const auto& d : task.docs)
      f << nlohmann::json({{"doc_id", d.doc_id}, {"response", std::string(1, static_cast<char>('A' + d.gold))}}).dump() << "\n";
  }
  ScoreRequest req;
  req.responses_path = dir + "/r.jsonl";
  req.data_path = shared + "/mmlu";
  auto s = score_mmlu(req);
  EXPECT_DOUBLE_EQ(s.metrics["acc,none"].get<double>(), 1.0);
  EXPECT_EQ(s.subtasks.size(), 57u);
  for (const char* cat : {"stem", "humanities", "social_sciences", "other"})
    EXPECT_DOUBLE_EQ(s.metrics[std::string("acc_") + cat + ",none"].get<double>(), 1.0) << cat;
  int mapped = 0;
  for (const auto& sub : s.subtasks) mapped += !mmlu_category(sub.task.substr(5)).empty();
  EXPECT_EQ(mapped, 57);  // every subject of the shared copy has a category
}

TEST(RealMathScore, GoldFractionsRewrittenAsSlashDfracAndDecimalAreAccepted) {
  PB_REQUIRE_SHARED(shared);
  auto task = prepare_math(shared + "/math", false);
  const std::string dir = packbench::testing::temp_dir("real-math-frac");
  int n = 0;
  {
    std::ofstream f(dir + "/r.jsonl");
    std::smatch m;
    const std::regex frac("^(-?)\\\\frac\\{(\\d+)\\}\\{(\\d+)\\}$");
    for (const auto& d : task.docs) {
      if (!std::regex_match(d.target, m, frac)) continue;
      const std::string sign = m[1], a = m[2], b = m[3];
      const double value = (sign.empty() ? 1 : -1) * std::stod(a) / std::stod(b);
      char decimal[64];
      std::snprintf(decimal, sizeof decimal, "%.12g", value);
      const std::string forms[] = {sign + a + "/" + b, sign + "\\dfrac{" + a + "}{" + b + "}", decimal};
      f << nlohmann::json({{"doc_id", d.doc_id},
                           {"response", "Final Answer: The final answer is $" + forms[n % 3] + "$. I hope it is correct."}})
               .dump()
        << "\n";
      ++n;
    }
  }
  ASSERT_GT(n, 300);  // the test set has several hundred plain fraction answers
  ScoreRequest req;
  req.responses_path = dir + "/r.jsonl";
  req.data_path = shared + "/math";
  EXPECT_DOUBLE_EQ(score_math(req).metrics["exact_match,none"].get<double>(), 1.0) << n << " fractions";
}
