// GSM8K end to end on fixtures: prompts, a gold and a garbage model, resume after a crash, scoring from files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/gsm8k/task_gsm8k.h"
#include "tests/common/test_paths.h"
#include "tests/evals/fake_lm.h"

using namespace packbench::evals;
using packbench::evals::testing::FakeModel;

namespace {
std::string data() { return packbench::testing::fixtures_dir() + "/evals/gsm8k"; }

// Answers every prompt with the gold solution of its doc.
FakeModel gold_model() {
  auto task = prepare_gsm8k(data(), true);
  std::map<std::string, std::string> answers;
  for (const auto& d : task.docs) answers[d.prompt] = " " + d.target;
  FakeModel m;
  m.rule = [answers](const GenerationRequest& r) { return answers.at(r.context); };
  return m;
}
}  // namespace

TEST(Gsm8kTask, PromptIsFourShotQuestionAnswer) {
  auto task = prepare_gsm8k(data(), true);
  ASSERT_EQ(task.docs.size(), 3u);
  const std::string expected_start =
      "Question: Tom has 3 apples and buys 2 more. How many apples does he have?\n"
      "Answer: Tom has 3 + 2 = <<3+2=5>>5 apples.\n#### 5\n\n"
      "Question: A box holds 12 pens.";
  EXPECT_EQ(task.docs[0].prompt.substr(0, expected_start.size()), expected_start);
  const std::string expected_end =
      "#### 120\n\nQuestion: Ann reads 15 pages a day for 4 days. How many pages does she read?\nAnswer:";
  ASSERT_GE(task.docs[0].prompt.size(), expected_end.size());
  EXPECT_EQ(task.docs[0].prompt.substr(task.docs[0].prompt.size() - expected_end.size()), expected_end);
  EXPECT_EQ(task.docs[0].prompt.find("Unused fifth"), std::string::npos);  // 4 shots, not 5
}

TEST(Gsm8kTask, GoldModelScoresOneGarbageZero) {
  auto gold = gold_model();
  RunOptions opt;
  opt.data_path = data();
  opt.out_dir = packbench::testing::temp_dir("gsm8k-gold");
  auto s = run_gsm8k(gold, opt);
  EXPECT_EQ(s.n_samples, 3);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,strict-match"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,flexible-extract"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match_stderr,strict-match"].get<double>(), 0.0);
  EXPECT_EQ(gold.seen[0].until, (std::vector<std::string>{"Question:", "</s>", "<|im_end|>"}));
  EXPECT_TRUE(std::filesystem::exists(opt.out_dir + "/results.json"));
  auto results = nlohmann::json::parse(packbench::read_file(opt.out_dir + "/results.json"));
  EXPECT_EQ(results["n-shot"]["gsm8k"], 4);
  EXPECT_EQ(results["versions"]["gsm8k"], 3);
  EXPECT_EQ(results["results"]["gsm8k"]["exact_match,strict-match"], 1.0);

  FakeModel garbage;
  garbage.rule = [](const GenerationRequest&) { return std::string(" I do not know. #### 123456789"); };
  opt.out_dir = packbench::testing::temp_dir("gsm8k-garbage");
  auto g = run_gsm8k(garbage, opt);
  EXPECT_DOUBLE_EQ(g.metrics["exact_match,strict-match"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(g.metrics["exact_match,flexible-extract"].get<double>(), 0.0);
}

TEST(Gsm8kTask, MixedScoresAndStderr) {
  FakeModel m;
  int i = 0;
  // right, right only for flexible-extract, wrong
  m.rule = [&i](const GenerationRequest&) {
    const char* r[] = {" 15 * 4 = 60.\n#### 60", " So 2,000 cups.", " It is 3 degrees.\n#### 3"};
    return std::string(r[i++]);
  };
  RunOptions opt;
  opt.data_path = data();
  opt.batch_size = 1;
  auto s = run_gsm8k(m, opt);
  EXPECT_NEAR(s.metrics["exact_match,strict-match"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(s.metrics["exact_match,flexible-extract"].get<double>(), 2.0 / 3, 1e-12);
  // sample stddev of {1,0,0} is sqrt(1/3); over sqrt(3) -> 1/3
  EXPECT_NEAR(s.metrics["exact_match_stderr,strict-match"].get<double>(), 1.0 / 3, 1e-12);
}

TEST(Gsm8kTask, ResumesAfterACrashWithTheSameResult) {
  const std::string out = packbench::testing::temp_dir("gsm8k-resume");
  RunOptions opt;
  opt.data_path = data();
  opt.out_dir = out;
  opt.batch_size = 1;
  auto crashing = gold_model();
  crashing.throw_after = 2;  // two docs written, the third call dies
  EXPECT_THROW(run_gsm8k(crashing, opt), std::runtime_error);
  {
    std::string text = packbench::read_file(out + "/samples.jsonl");
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
    std::ofstream(out + "/samples.jsonl", std::ios::app) << "{\"doc_id\": 2, \"tor";  // torn write
  }
  auto resumed = gold_model();
  auto s = run_gsm8k(resumed, opt);
  EXPECT_EQ(resumed.served, 1);  // only the missing doc was asked for
  EXPECT_EQ(s.n_samples, 3);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,strict-match"].get<double>(), 1.0);
  std::string text = packbench::read_file(out + "/samples.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);

  auto fresh = gold_model();
  RunOptions opt2 = opt;
  opt2.out_dir = packbench::testing::temp_dir("gsm8k-fresh");
  auto f = run_gsm8k(fresh, opt2);
  EXPECT_EQ(f.metrics, s.metrics);
}

TEST(Gsm8kTask, LimitTakesTheFirstDocs) {
  auto gold = gold_model();
  RunOptions opt;
  opt.data_path = data();
  opt.limit = 2;
  auto s = run_gsm8k(gold, opt);
  EXPECT_EQ(s.n_samples, 2);
}

TEST(Gsm8kTask, ScoresLmEvalAndSimpleResponseFiles) {
  const std::string dir = packbench::testing::temp_dir("gsm8k-score");
  {
    std::ofstream f(dir + "/samples_gsm8k.jsonl");
    // lm-eval sample records: doc_id, doc, resps, filtered_resps
    f << nlohmann::json({{"doc_id", 1},
                         {"doc", {{"question", "A shop sells 1,250 cups on Monday and 750 on Tuesday. How many cups in total?"},
                                  {"answer", "..."}}},
                         {"resps", {{"1250 + 750 = 2000.\n#### 2,000"}}},
                         {"filtered_resps", {"2,000"}}})
             .dump()
      << "\n";
    f << nlohmann::json({{"doc_id", 0}, {"response", "The answer is 61"}}).dump() << "\n";
  }
  ScoreRequest req;
  req.task = "gsm8k";
  req.responses_path = dir + "/samples_gsm8k.jsonl";
  req.data_path = data();
  req.out_dir = dir + "/out";
  auto s = score_gsm8k(req);
  EXPECT_EQ(s.n_samples, 2);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,strict-match"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,flexible-extract"].get<double>(), 0.5);
  std::string text = packbench::read_file(dir + "/out/samples.jsonl");
  auto first = nlohmann::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(first["doc_id"], 1);  // input order
  EXPECT_EQ(first["filtered_resps"]["strict-match"], "2,000");
  EXPECT_EQ(first["exact_match,strict-match"], 1.0);
}

TEST(Gsm8kTask, LmEvalPerFilterRecordsCountOnce) {
  // lm-eval writes each doc once per filter, with the same raw resps
  const std::string dir = packbench::testing::temp_dir("gsm8k-perfilter");
  {
    std::ofstream f(dir + "/samples_gsm8k.jsonl");
    for (const char* filter : {"strict-match", "flexible-extract"}) {
      f << nlohmann::json({{"doc_id", 0}, {"filter", filter}, {"resps", {{"15 * 4 = 60\n#### 60"}}}}).dump() << "\n";
      f << nlohmann::json({{"doc_id", 2}, {"filter", filter}, {"resps", {{"so -3"}}}}).dump() << "\n";
    }
  }
  ScoreRequest req;
  req.responses_path = dir + "/samples_gsm8k.jsonl";
  req.data_path = data();
  auto s = score_gsm8k(req);
  EXPECT_EQ(s.n_samples, 2);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,strict-match"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(s.metrics["exact_match,flexible-extract"].get<double>(), 1.0);
}

TEST(Gsm8kTask, BadResponseFilesNameFileAndLine) {
  const std::string dir = packbench::testing::temp_dir("gsm8k-bad");
  auto try_file = [&](const std::string& body) -> std::string {
    std::ofstream(dir + "/r.jsonl") << body;
    ScoreRequest req;
    req.responses_path = dir + "/r.jsonl";
    req.data_path = data();
    try {
      score_gsm8k(req);
    } catch (const packbench::Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(try_file("{\"doc_id\": 0}\n").find("r.jsonl:1: missing field 'response'"), std::string::npos);
  EXPECT_NE(try_file("{\"doc_id\": 0, \"response\": \"1\"}\n{\"doc_id\": 9, \"response\": \"1\"}\n")
                .find("r.jsonl:2: doc_id 9 is outside"),
            std::string::npos);
  EXPECT_NE(try_file("{\"doc_id\": 0, \"response\": 5}\n").find("field 'response' must be a string"), std::string::npos);
  EXPECT_NE(try_file("{\"doc_id\": 0, \"response\": \"1\"}\n{\"doc_id\": 0, \"response\": \"2\"}\n")
                .find("r.jsonl:2: a second response for doc 0"),
            std::string::npos);
  EXPECT_NE(try_file("{\"doc_id\": 0, \"doc\": {\"question\": \"not in the set\"}, \"resps\": [[\"1\"]]}\n")
                .find("is not in the gsm8k data"),
            std::string::npos);
  EXPECT_NE(try_file("{\"doc_id\": 0, \"response\": \"1\"\n").find("r.jsonl: line 1: not valid JSON"), std::string::npos);
}
