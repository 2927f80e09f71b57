// MMLU end to end on fixtures: the 5-shot prompt, log-likelihood scoring, micro/macro/per-subject, resume.
#include <gtest/gtest.h>

#include <fstream>

#include "core/atomic_file.h"
#include "evals/mmlu/task_mmlu.h"
#include "tests/common/test_paths.h"
#include "tests/evals/fake_lm.h"

using namespace packbench::evals;
using packbench::evals::testing::FakeModel;

namespace {
std::string data() { return packbench::testing::fixtures_dir() + "/evals/mmlu"; }

// Gives the gold letter (or, with `wrong`, the next letter) the highest log-likelihood.
FakeModel letter_model(bool wrong) {
  auto task = prepare_mmlu(data(), true);
  std::map<std::string, int> gold;
  for (const auto& d : task.docs) gold[d.prompt] = d.gold;
  FakeModel m;
  m.ll = [gold, wrong](const LoglikelihoodRequest& r) {
    int g = gold.at(r.context);
    if (wrong) g = (g + 1) % 4;
    return r.continuation == std::string(" ") + static_cast<char>('A' + g) ? -0.1 : -5.0;
  };
  return m;
}
}  // namespace

TEST(MmluTask, FiveShotPromptWithSubjectHeader) {
  auto task = prepare_mmlu(data(), true);
  ASSERT_EQ(task.docs.size(), 5u);
  const auto& p = task.docs[2].prompt;  // first basic_arithmetic question
  const std::string start =
      "The following are multiple choice questions (with answers) about basic arithmetic.\n\n"
      "1 + 1 =\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n2 * 3 =";
  EXPECT_EQ(p.substr(0, start.size()), start);
  const std::string end = "3 squared is\nA. 6\nB. 9\nC. 12\nD. 27\nAnswer: B\n\n"
                          "What is 12 + 30?\nChoose one.\nA. 42\nB. 24\nC. 32\nD. 52\nAnswer:";
  EXPECT_EQ(p.substr(p.size() - end.size()), end);
  EXPECT_EQ(task.docs[2].choices, (std::vector<std::string>{" A", " B", " C", " D"}));
  EXPECT_EQ(task.docs[2].subtask, "basic_arithmetic");
  EXPECT_EQ(task.docs[2].subtask_doc_id, 0);
}

TEST(MmluTask, GoldLettersScoreOneWrongLettersZero) {
  auto gold = letter_model(false);
  RunOptions opt;
  opt.data_path = data();
  opt.batch_size = 2;
  auto s = run_mmlu(gold, opt);
  EXPECT_EQ(s.n_samples, 5);
  EXPECT_DOUBLE_EQ(s.metrics["acc,none"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(s.metrics["acc_macro,none"].get<double>(), 1.0);
  ASSERT_EQ(s.subtasks.size(), 2u);
  EXPECT_EQ(s.subtasks[0].task, "mmlu_astronomy");
  EXPECT_EQ(s.subtasks[1].n_samples, 3);
  auto wrong = letter_model(true);
  EXPECT_DOUBLE_EQ(run_mmlu(wrong, opt).metrics["acc,none"].get<double>(), 0.0);
}

TEST(MmluTask, MicroAndMacroDiffer) {
  // right on astronomy (2 docs), wrong on arithmetic (3 docs): micro 2/5, macro (1 + 0) / 2
  auto task = prepare_mmlu(data(), true);
  std::map<std::string, std::pair<int, std::string>> info;
  for (const auto& d : task.docs) info[d.prompt] = {d.gold, d.subtask};
  FakeModel m;
  m.ll = [info](const LoglikelihoodRequest& r) {
    auto [g, subject] = info.at(r.context);
    if (subject != "astronomy") g = (g + 1) % 4;
    return r.continuation == std::string(" ") + static_cast<char>('A' + g) ? -0.1 : -5.0;
  };
  RunOptions opt;
  opt.data_path = data();
  auto s = run_mmlu(m, opt);
  EXPECT_DOUBLE_EQ(s.metrics["acc,none"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(s.metrics["acc_macro,none"].get<double>(), 0.5);
  // per-subject entries in results.json
  auto j = results_json({s});
  EXPECT_DOUBLE_EQ(j["results"]["mmlu_astronomy"]["acc,none"].get<double>(), 1.0);
  EXPECT_EQ(j["results"]["mmlu_astronomy"]["alias"], " - mmlu_astronomy");
  EXPECT_EQ(j["group_subtasks"]["mmlu"].size(), 2u);
  EXPECT_EQ(j["n-shot"]["mmlu"], 5);
  // categories: astronomy is stem; the fixture's basic_arithmetic is in none of lm-eval's 57
  EXPECT_DOUBLE_EQ(s.metrics["acc_stem,none"].get<double>(), 1.0);
  EXPECT_FALSE(s.metrics.contains("acc_other,none"));
  EXPECT_EQ(mmlu_category("professional_law"), "humanities");
  EXPECT_EQ(mmlu_category("econometrics"), "social_sciences");
}

TEST(MmluTask, LimitIsPerSubjectAndResumeContinues) {
  RunOptions opt;
  opt.data_path = data();
  opt.limit = 1;
  auto gold = letter_model(false);
  EXPECT_EQ(run_mmlu(gold, opt).n_samples, 2);  // one per subject

  opt.limit = -1;
  opt.batch_size = 1;
  opt.out_dir = packbench::testing::temp_dir("mmlu-resume");
  auto crashing = letter_model(false);
  crashing.throw_after = 12;  // 3 docs x 4 choices, then the crash
  EXPECT_THROW(run_mmlu(crashing, opt), std::runtime_error);
  auto resumed = letter_model(false);
  auto s = run_mmlu(resumed, opt);
  EXPECT_EQ(resumed.served, 8);  // the 2 remaining docs
  EXPECT_DOUBLE_EQ(s.metrics["acc,none"].get<double>(), 1.0);
  std::string text = packbench::read_file(opt.out_dir + "/samples.jsonl");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
}

TEST(MmluTask, ScoresLoglikelihoodAndLetterResponses) {
  const std::string dir = packbench::testing::temp_dir("mmlu-score");
  {
    std::ofstream f(dir + "/r.jsonl");
    // lm-eval sample (per-subject doc_id, doc with subject): resps [[[ll, greedy]], ...]
    f << R"({"doc_id": 1, "doc": {"question": "A \"light-year\" measures", "subject": "astronomy", "choices": ["time","distance","speed","mass"], "answer": 1}, "resps": [[["-3.0", "False"]], [["-0.5", "True"]], [["-4.0", "False"]], [["-5.0", "False"]]]})"
      << "\n";
    f << R"({"doc_id": 3, "loglikelihoods": [-1, -2, -0.5, -3]})" << "\n";  // global doc 3 (5 * 5): gold C
    f << R"({"doc_id": 4, "response": "(A) because"})" << "\n";               // gold B: wrong
  }
  ScoreRequest req;
  req.responses_path = dir + "/r.jsonl";
  req.data_path = data();
  req.out_dir = dir + "/out";
  auto s = score_mmlu(req);
  EXPECT_EQ(s.n_samples, 3);
  EXPECT_NEAR(s.metrics["acc,none"].get<double>(), 2.0 / 3, 1e-12);
  auto lines = packbench::read_file(dir + "/out/samples.jsonl");
  auto first = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
  EXPECT_EQ(first["doc_id"], 1);
  EXPECT_EQ(first["pred"], 1);
}
