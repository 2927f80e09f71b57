// Benchmark loaders on small fixtures: MMLU CSV folders and jsonl, GSM8K, MATH per-problem JSON, BBH.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "evals/loaders.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

using namespace packbench::evals;

using packbench::testing::error_of;

namespace {
std::string fx(const std::string& p) { return packbench::testing::fixtures_dir() + "/evals/" + p; }
}  // namespace

TEST(MmluLoader, CsvFolderSubjectsInOrderWithQuotedFields) {
  auto docs = load_mmlu(fx("mmlu"), "test");
  ASSERT_EQ(docs.size(), 5u);
  EXPECT_EQ(docs[0].subject, "astronomy");
  EXPECT_EQ(docs[0].choices[0], "Mercury, Venus");
  EXPECT_EQ(docs[0].answer, 1);
  EXPECT_EQ(docs[1].question, "A \"light-year\" measures");
  EXPECT_EQ(docs[2].subject, "basic_arithmetic");
  EXPECT_EQ(docs[2].question, "What is 12 + 30?\nChoose one.");
  EXPECT_EQ(docs[3].origin.line, 3);  // the row after a two-line field starts on line 3
  EXPECT_EQ(docs[4].answer, 1);
  EXPECT_EQ(load_mmlu(fx("mmlu"), "dev").size(), 10u);
  EXPECT_EQ(mmlu_subject_title("high_school_us_history"), "high school us history");
}

TEST(MmluLoader, JsonlFormAndErrors) {
  auto dir = packbench::testing::temp_dir("mmlu-jsonl");
  std::ofstream(dir + "/test.jsonl")
      << "{\"question\": \"q2\", \"subject\": \"b\", \"choices\": [\"1\",\"2\",\"3\",\"4\"], \"answer\": 3}\n"
      << "{\"question\": \"q1\", \"subject\": \"a\", \"choices\": [\"1\",\"2\",\"3\",\"4\"], \"answer\": \"C\"}\n";
  auto docs = load_mmlu(dir + "/test.jsonl", "test");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].subject, "a");  // grouped by subject
  EXPECT_EQ(docs[0].answer, 2);
  EXPECT_EQ(docs[1].answer, 3);
  std::ofstream(dir + "/bad.jsonl") << "{\"question\": \"q\", \"subject\": \"a\", \"choices\": [\"1\",\"2\"], \"answer\": 0}\n";
  EXPECT_NE(error_of([&] { load_mmlu(dir + "/bad.jsonl", "test"); }).find("bad.jsonl:1: field 'choices'"),
            std::string::npos);
  const std::string csv_dir = packbench::testing::temp_dir("mmlu-csv");
  std::ofstream(csv_dir + "/x_test.csv") << "q,a,b,c,d,E\n";
  EXPECT_NE(error_of([&] { load_mmlu(csv_dir, "test"); }).find("x_test.csv:1: field 'answer' must be one of A, B, C, D"),
            std::string::npos);
  std::ofstream(csv_dir + "/x_test.csv") << "q,a,b,c,d\n";
  EXPECT_NE(error_of([&] { load_mmlu(csv_dir, "test"); }).find("expected 6 columns"), std::string::npos);
}

TEST(Gsm8kLoader, FolderAndFileAndErrors) {
  EXPECT_EQ(load_gsm8k(fx("gsm8k"), "test").size(), 3u);
  EXPECT_EQ(load_gsm8k(fx("gsm8k/train.jsonl")).size(), 5u);
  auto dir = packbench::testing::temp_dir("gsm8k-load");
  std::ofstream(dir + "/t.jsonl") << "{\"question\": \"q\", \"answer\": \"no final answer\"}\n";
  EXPECT_NE(error_of([&] { load_gsm8k(dir + "/t.jsonl"); }).find("t.jsonl:1: field 'answer' has no '#### <number>'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_gsm8k(dir + "/missing.jsonl"); }).find("not found"), std::string::npos);
}

TEST(MathLoader, PerProblemJsonInSubjectAndNumericOrder) {
  auto docs = load_math(fx("math"), "test");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].problem, "Solve $2x = 10$.");  // 2.json before 10.json
  EXPECT_EQ(docs[1].type, "Algebra");
  EXPECT_EQ(docs[2].type, "Number Theory");
  EXPECT_EQ(docs[2].level, "Level 2");
}

TEST(MathLoader, JsonlAndMissingField) {
  auto dir = packbench::testing::temp_dir("math-load");
  std::ofstream(dir + "/test.jsonl") << "{\"problem\": \"p\", \"solution\": \"$\\\\boxed{1}$\", \"type\": \"Algebra\"}\n"
                                     << "{\"problem\": \"p\"}\n";
  EXPECT_NE(error_of([&] { load_math(dir, "test"); }).find("test.jsonl:2: missing field 'solution'"), std::string::npos);
}

TEST(BbhLoader, TasksPromptsAndTargets) {
  auto tasks = load_bbh(fx("bbh"));
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].name, "boolean_expressions");
  EXPECT_EQ(tasks[0].examples.size(), 2u);
  EXPECT_EQ(tasks[0].examples[0].target, "False");
  EXPECT_EQ(tasks[0].cot_prompt.substr(0, 30), "Evaluate the result of a rando");  // canary header gone
  EXPECT_EQ(tasks[0].cot_prompt.back(), '.');
  EXPECT_EQ(load_bbh(fx("bbh"), {"sports_understanding"}).size(), 1u);
  EXPECT_NE(error_of([&] { load_bbh(fx("bbh"), {"nope"}); }).find("no BBH task named 'nope'"), std::string::npos);
}
