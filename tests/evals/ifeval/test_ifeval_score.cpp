// ifeval as a task on small hand-written fixtures: both response formats, samples.jsonl, bad input, in-process runs with resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/ifeval/ifeval_data.h"
#include "evals/ifeval/ifeval_score.h"

using namespace packbench::evals;
using packbench::testing::fixtures_dir;
using packbench::testing::temp_dir;
using nlohmann::json;

using packbench::testing::read_json_lines;
using packbench::testing::write_text;

namespace {

std::string fixture(const std::string& name) { return fixtures_dir() + "/ifeval/" + name; }

std::string error_of(const ScoreRequest& req) {
  try {
    score_ifeval(req);
  } catch (const packbench::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(IfevalScore, ScoresInputResponseDataAndWritesSamples) {
  std::string out = temp_dir("ifeval_score");
  ScoreRequest req{"ifeval", fixture("responses_small.jsonl"), fixture("input_data_small.jsonl"), out};
  TaskScore s = score_ifeval(req);
  // Strict verdicts by hand: [T], [F (preamble before the quote), T], [F (4 bullets), T].
  // Loose: the quote passes once the first line is dropped, and the bullets once the last
  // line is dropped (3 bullets remain).
  EXPECT_EQ(s.task, "ifeval");
  EXPECT_EQ(s.n_samples, 3);
  EXPECT_EQ(s.n_shot, 0);
  EXPECT_NEAR(s.metrics["prompt_level_strict_acc,none"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(s.metrics["inst_level_strict_acc,none"].get<double>(), 3.0 / 5, 1e-12);
  EXPECT_NEAR(s.metrics["prompt_level_loose_acc,none"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(s.metrics["inst_level_loose_acc,none"].get<double>(), 1.0, 1e-12);
  for (const char* k : {"prompt_level_strict_acc_stderr,none", "inst_level_strict_acc_stderr,none",
                        "prompt_level_loose_acc_stderr,none", "inst_level_loose_acc_stderr,none"})
    EXPECT_TRUE(s.metrics.contains(k)) << k;

  std::vector<json> lines = read_json_lines(out + "/samples.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["key"], 1);
  EXPECT_EQ(lines[1]["follow_instruction_list_strict"], json({false, true}));
  EXPECT_EQ(lines[1]["follow_instruction_list_loose"], json({true, true}));
  EXPECT_EQ(lines[2]["follow_instruction_list_strict"], json({false, true}));
  EXPECT_EQ(lines[2]["follow_instruction_list_loose"], json({true, true}));
  EXPECT_EQ(lines[2]["prompt_level_strict_acc"], false);
  json per = json::parse(packbench::read_file(out + "/ifeval_per_instruction.json"));
  EXPECT_EQ(per["instructions"]["startend:quotation"]["n"], 1);
  // The aggregate goes into results.json in lm-evaluation-harness's shape.
  json r = results_json({s});
  EXPECT_EQ(r["results"]["ifeval"]["prompt_level_loose_acc,none"], 1.0);
}

TEST(IfevalScore, ScoresLmEvalSamplesWithoutInputData) {
  ScoreRequest req{"ifeval", fixture("lm_eval_samples_small.jsonl"), "/nonexistent", ""};
  TaskScore s = score_ifeval(req);
  EXPECT_EQ(s.n_samples, 2);
  EXPECT_NEAR(s.metrics["inst_level_strict_acc,none"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(s.metrics["prompt_level_strict_acc,none"].get<double>(), 0.5, 1e-12);
}

TEST(IfevalScore, BadInputNamesFileLineAndField) {
  std::string dir = temp_dir("ifeval_bad");
  std::string data = fixture("input_data_small.jsonl");
  auto resp = [&](const std::string& content) { return ScoreRequest{"ifeval", write_text(dir, "r.jsonl", content), data, ""}; };

  std::string e = error_of(resp("{\"prompt\": \"Describe a lighthouse without using any commas.\"}\n"));
  EXPECT_NE(e.find("r.jsonl line 1"), std::string::npos) << e;
  EXPECT_NE(e.find("response is missing"), std::string::npos) << e;

  e = error_of(resp("{\"prompt\": \"Describe a lighthouse without using any commas.\", \"response\": 5}\n"));
  EXPECT_NE(e.find("response must be a string"), std::string::npos) << e;

  e = error_of(resp("\n{\"prompt\": \"not in the benchmark\", \"response\": \"x\"}\n"));
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("does not match any prompt"), std::string::npos) << e;

  e = error_of(resp("{\"prompt\": \"Describe a lighthouse without using any commas.\", \"response\": \"a\"}\n"
                    "{\"prompt\": \"Describe a lighthouse without using any commas.\", \"response\": \"b\"}\n"));
  EXPECT_NE(e.find("second response"), std::string::npos) << e;

  e = error_of(resp("{\"prompt\": \"x\", \"response\": \"unterminated}\n"));
  EXPECT_NE(e.find("not valid JSON"), std::string::npos) << e;

  e = error_of(resp(std::string("{\"prompt\": \"Describe a lighthouse without using any commas.\", \"response\": \"bad \xC3\x28\"}\n")));
  EXPECT_NE(e.find("line 1"), std::string::npos) << e;  // invalid UTF-8 is refused with the line

  e = error_of(resp(""));
  EXPECT_NE(e.find("no responses"), std::string::npos) << e;

  // lm-evaluation-harness samples: the doc is checked like an input_data record.
  std::string doc = R"({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})";
  e = error_of(resp("{\"doc\": " + doc + "}\n"));
  EXPECT_NE(e.find("resps is missing or empty"), std::string::npos) << e;
  e = error_of(resp("{\"doc\": " + doc + ", \"resps\": [[5]]}\n"));
  EXPECT_NE(e.find("resps must hold strings"), std::string::npos) << e;
  e = error_of(resp(R"({"doc": {"key": 1, "prompt": "p", "instruction_id_list": ["keywords:frequency"], "kwargs": [{"keyword": "x", "frequency": 2, "relation": "more than"}]}, "resps": [["r"]]})"
                    "\n"));
  EXPECT_NE(e.find("line 1 (doc)"), std::string::npos) << e;
  EXPECT_NE(e.find("kwargs.relation"), std::string::npos) << e;
  e = error_of(resp(R"({"doc": {"key": "one", "prompt": "p", "instruction_id_list": [], "kwargs": []}, "resps": [["r"]]})"
                    "\n"));
  EXPECT_NE(e.find("key must be an integer"), std::string::npos) << e;

  // Bad benchmark records: unknown id, mismatched kwargs, wrong types.
  std::string ok_resp = write_text(dir, "ok.jsonl", "{\"prompt\": \"p\", \"response\": \"r\"}\n");
  auto data_err = [&](const std::string& record) {
    return error_of(ScoreRequest{"ifeval", ok_resp, write_text(dir, "d.jsonl", record + "\n"), ""});
  };
  e = data_err(R"({"key": 1, "prompt": "p", "instruction_id_list": ["no:such_thing"], "kwargs": [{}]})");
  EXPECT_NE(e.find("d.jsonl line 1"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown instruction id 'no:such_thing'"), std::string::npos) << e;
  e = data_err(R"({"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []})");
  EXPECT_NE(e.find("kwargs has 0 entries for 1 instructions"), std::string::npos) << e;
  e = data_err(R"({"key": 1, "prompt": "p", "instruction_id_list": "punctuation:no_comma", "kwargs": [{}]})");
  EXPECT_NE(e.find("instruction_id_list must be a list"), std::string::npos) << e;
  e = data_err(R"({"key": 1, "instruction_id_list": [], "kwargs": []})");
  EXPECT_NE(e.find("field prompt is missing"), std::string::npos) << e;
  e = data_err(R"({"key": 1, "prompt": "p", "instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": -3, "relation": "at least"}]})");
  EXPECT_NE(e.find("kwargs.num_words must be at least 0"), std::string::npos) << e;
}

TEST(IfevalScore, EmptyAndHugeResponsesAreScoredNotCrashed) {
  std::string dir = temp_dir("ifeval_edge");
  std::string huge(2'000'000, 'a');
  for (size_t i = 0; i < huge.size(); i += 7) huge[i] = ' ';
  json r1 = {{"prompt", "Describe a lighthouse without using any commas."}, {"response", ""}};
  json r2 = {{"prompt", "List three fruits in exactly 3 markdown bullet points and answer in fewer than 20 words."},
             {"response", huge}};
  std::string path = write_text(dir, "r.jsonl", r1.dump() + "\n" + r2.dump() + "\n");
  TaskScore s = score_ifeval({"ifeval", path, fixture("input_data_small.jsonl"), dir});
  EXPECT_EQ(s.n_samples, 2);
  std::vector<json> lines = read_json_lines(dir + "/samples.jsonl");
  EXPECT_EQ(lines[0]["follow_instruction_list_strict"], json({false}));  // blank: nothing followed
  EXPECT_EQ(lines[0]["follow_instruction_list_loose"], json({false}));
  EXPECT_EQ(lines[1]["follow_instruction_list_strict"], json({false, false}));
}

namespace {

// Answers every prompt with a fixed text and counts what it was asked.
class FakeModel : public LanguageModel {
 public:
  int calls = 0;
  std::vector<GenerationRequest> seen;
  std::vector<std::string> generate_until(const std::vector<GenerationRequest>& reqs) override {
    ++calls;
    std::vector<std::string> out;
    for (const auto& r : reqs) {
      seen.push_back(r);
      out.push_back("\"A puddle, three fruits: apple pear plum\"");
    }
    return out;
  }
  std::vector<LoglikelihoodResult> loglikelihood(const std::vector<LoglikelihoodRequest>&) override { return {}; }
  std::string name() const override { return "fake"; }
};

}  // namespace

TEST(IfevalRun, GeneratesZeroShotAndResumes) {
  std::string out = temp_dir("ifeval_run");
  RunOptions opt;
  opt.data_path = fixture("input_data_small.jsonl");
  opt.out_dir = out;
  opt.batch_size = 2;
  FakeModel lm;
  TaskScore s = run_ifeval(lm, opt);
  EXPECT_EQ(s.n_samples, 3);
  ASSERT_EQ(lm.seen.size(), 3u);
  EXPECT_EQ(lm.calls, 2);  // batches of 2 then 1
  EXPECT_EQ(lm.seen[0].context, "Describe a lighthouse without using any commas.");  // the bare prompt, 0-shot
  EXPECT_TRUE(lm.seen[0].until.empty());
  EXPECT_EQ(lm.seen[0].max_gen_toks, 1280);
  EXPECT_EQ(read_json_lines(out + "/samples.jsonl").size(), 3u);
  json results = json::parse(packbench::read_file(out + "/results.json"));
  EXPECT_EQ(results["results"]["ifeval"]["prompt_level_strict_acc,none"], s.metrics["prompt_level_strict_acc,none"]);

  // Simulate a crash after the first doc with a torn second line: the rerun keeps doc 0 and
  // regenerates the rest.
  std::vector<json> lines = read_json_lines(out + "/samples.jsonl");
  packbench::write_file_atomic(out + "/samples.jsonl", lines[0].dump() + "\n{\"doc_id\": 1, \"prom");
  std::filesystem::remove(out + "/results.json");
  FakeModel again;
  TaskScore s2 = run_ifeval(again, opt);
  EXPECT_EQ(again.seen.size(), 2u);
  EXPECT_EQ(s2.metrics, s.metrics);
  std::vector<json> after = read_json_lines(out + "/samples.jsonl");
  ASSERT_EQ(after.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(after[i]["doc_id"], i);
  EXPECT_TRUE(std::filesystem::exists(out + "/results.json"));

  // A finished run resumes without asking the model anything.
  FakeModel idle;
  run_ifeval(idle, opt);
  EXPECT_EQ(idle.calls, 0);

  // --limit
  RunOptions lim = opt;
  lim.out_dir = temp_dir("ifeval_run_limit");
  lim.limit = 1;
  FakeModel one;
  EXPECT_EQ(run_ifeval(one, lim).n_samples, 1);
}
