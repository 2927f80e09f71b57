// The task registry: the six benchmarks, their aliases and n-shot, and unknown names.
#include <gtest/gtest.h>

#include "core/error.h"
#include "evals/gsm8k/task_gsm8k.h"
#include "evals/tasks.h"

using namespace packbench::evals;

TEST(TaskRegistry, SixTasksInTableOrder) {
  std::vector<std::string> names;
  for (const auto& t : task_registry()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mmlu", "gsm8k", "math", "bbh", "ifeval", "humaneval"}));
  EXPECT_EQ(find_task("minerva_math").name, "math");
  EXPECT_EQ(find_task("gsm8k").n_shot, 4);
  EXPECT_EQ(find_task("gsm8k").score, &score_gsm8k);
  EXPECT_EQ(find_task("mmlu").n_shot, 5);
  EXPECT_EQ(find_task("bbh").n_shot, 3);
  for (const auto& t : task_registry()) {
    EXPECT_NE(t.score, nullptr) << t.name;
    EXPECT_NE(t.run, nullptr) << t.name;
  }
}

TEST(TaskRegistry, UnknownNameListsKnownOnes) {
  try {
    find_task("hellaswag");
    FAIL() << "no error";
  } catch (const packbench::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown task 'hellaswag' (known: mmlu, gsm8k, math, bbh, ifeval, humaneval)"),
              std::string::npos)
        << e.what();
  }
}
