// Loaders on the real benchmark files: row counts and formats of MMLU, MATH and BBH.
#include <gtest/gtest.h>

#include <set>

#include "evals/loaders.h"
#include "evals/math/math_answer.h"
#include "tests/common/test_paths.h"

using namespace packbench::evals;

TEST(RealMmlu, HendrycksCsvCounts) {
  PB_REQUIRE_SHARED(shared);
  auto test = load_mmlu(shared + "/mmlu", "test");
  EXPECT_EQ(test.size(), 14079u);  // the early hendrycks/test release (README)
  std::set<std::string> subjects;
  for (const auto& d : test) subjects.insert(d.subject);
  EXPECT_EQ(subjects.size(), 57u);
  auto dev = load_mmlu(shared + "/mmlu", "dev");
  EXPECT_EQ(dev.size(), 57u * 5);
  EXPECT_EQ(load_mmlu(shared + "/mmlu", "val").size(), 1542u);
}

TEST(RealMath, FiveThousandProblemsEachWithABox) {
  PB_REQUIRE_SHARED(shared);
  auto docs = load_math(shared + "/math", "test");
  ASSERT_EQ(docs.size(), 5000u);
  for (const auto& d : docs) EXPECT_FALSE(math_gold_answer(d.solution).empty()) << d.origin.str();
}

TEST(RealBbh, TwentySevenTasks) {
  PB_REQUIRE_SHARED(shared);
  auto tasks = load_bbh(shared + "/bbh");
  ASSERT_EQ(tasks.size(), 27u);
  size_t n = 0;
  for (const auto& t : tasks) {
    n += t.examples.size();
    EXPECT_NE(t.cot_prompt.find("A: Let's think step by step."), std::string::npos) << t.name;
    EXPECT_EQ(t.cot_prompt.find("canary"), std::string::npos) << t.name;
  }
  EXPECT_EQ(n, 6511u);
}
