// `packbench wildbench run` over real HTTP on loopback: packbench serve (a random tiny model) answers and judges; a fixed-verdict judge; resume.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "core/atomic_file.h"
#include "evals/records.h"
#include "evals/wildbench/wildbench_data.h"
#include "evals/wildbench/wildbench_judge.h"
#include "evals/wildbench/wildbench_score.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
namespace pt = packbench::testing;
namespace wb = packbench::evals::wildbench;
using ::testing::HasSubstr;
using nlohmann::json;

namespace {

// A child process that prints "listening on http://127.0.0.1:PORT"; SIGTERM on scope exit.
class Child {
 public:
  Child(const std::string& cmd, const fs::path& log) : log_(log) {
    const std::string sh = "exec " + cmd + " > " + log.string() + " 2>&1";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", sh.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::regex re("listening on http://127\\.0\\.0\\.1:(\\d+)");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::smatch m;
      const std::string text = log_text();
      if (std::regex_search(text, m, re)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~Child() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int port() const { return port_; }
  std::string log_text() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string data_file() { return pt::fixtures_dir() + "/wildbench/mini_tasks.jsonl"; }

class WildBenchLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    if (pt::run_command(pt::packbench_bin() + " serve --help") != 0)
      GTEST_SKIP() << "this packbench build has no 'serve' (LibTorch off)";
    dir_ = pt::temp_dir("wb_loopback");
    packbench::write_file_atomic(dir_ + "/cfg.json",
                                 R"({"vocab_size": 272, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                     "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 4096,
                                     "architectures": ["LlamaForCausalLM"], "model_type": "llama"})");
    std::string out;
    ASSERT_EQ(pt::run_command(pt::packbench_bin() + " model init --config " + dir_ + "/cfg.json --out " + dir_ +
                                  "/ckpt --seed 5 --tokenizer " + pt::fixtures_dir() + "/tokenizer/tiny",
                              &out),
              0)
        << out;
  }
  std::string serve_cmd() const {
    return pt::packbench_bin() + " serve --checkpoint " + dir_ + "/ckpt --port 0 --threads 1 --chat-template alpaca --model-name tiny";
  }
  std::string dir_;
};

}  // namespace

// The random model answers and judges: its verdicts are not JSON, so every one is recorded as
// unparsable with the judge's raw text, and no score is made up.
TEST_F(WildBenchLoopback, RandomJudgeVerdictsAreRecordedAsUnparsableAndRunsResume) {
  Child server(serve_cmd(), dir_ + "/serve.log");
  ASSERT_GT(server.port(), 0) << server.log_text();
  const std::string out = dir_ + "/run";
  const std::string cmd = pt::packbench_bin() + " wildbench run --data " + data_file() + " --out " + out +
                          " --model-url " + server.url() + " --judge-url " + server.url() +
                          " --max-new-tokens 12 --judge-max-tokens 24 --concurrency 2 --save-every 1";
  std::string log;
  ASSERT_EQ(pt::run_command(cmd, &log), 0) << log;

  const auto tasks = wb::load_tasks(data_file());
  const json file = packbench::evals::read_json_file(out + "/wildbench_judge.json");
  ASSERT_TRUE(file.is_array());
  ASSERT_EQ(file.size(), tasks.size());
  const std::string tmpl = wb::load_score_template();
  for (size_t i = 0; i < file.size(); ++i) {
    const json& r = file[i];
    EXPECT_EQ(r["session_id"], tasks[i].session_id);  // in data order
    EXPECT_EQ(r["model_test"], "tiny");
    EXPECT_TRUE(r["score"].is_null());
    EXPECT_EQ(r["judge"]["parsed"], false);
    EXPECT_TRUE(r["judge"]["result"].is_string());  // the raw verdict is kept
    EXPECT_FALSE(r["judge"]["problem"].get<std::string>().empty());
    // What the judge saw is the official prompt for this task and this answer.
    EXPECT_EQ(r["judge"]["prompt"], json(wb::fill_score_prompt(tmpl, tasks[i], r["model_output"])).get<std::string>());
  }
  auto records = wb::read_judge_file(out + "/wildbench_judge.json");
  ASSERT_EQ(records.size(), tasks.size());
  const json summary = packbench::evals::read_json_file(out + "/summary.json");
  EXPECT_TRUE(summary["wb_score"].is_null());
  EXPECT_EQ(summary["counts"]["unparsable"], 5);
  EXPECT_EQ(summary["counts"]["missing"], 0);
  EXPECT_EQ(summary["config"]["judge_max_tokens"], 24);
  const json results = packbench::evals::read_json_file(out + "/results.json");
  EXPECT_TRUE(results["results"]["wildbench"]["score,none"].is_null());
  EXPECT_EQ(results["results"]["wildbench"]["unparsable,none"], 5);

  // After a crash that lost the last two records, a rerun judges only those and keeps the rest.
  json cut = file;
  cut.erase(cut.begin() + 3, cut.end());
  packbench::write_file_atomic(out + "/wildbench_judge.json", cut.dump(2));
  ASSERT_EQ(pt::run_command(cmd, &log), 0) << log;
  EXPECT_THAT(log, HasSubstr("resuming: 3 of 5 tasks already judged"));
  const json again = packbench::evals::read_json_file(out + "/wildbench_judge.json");
  ASSERT_EQ(again.size(), 5u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(again[i], file[i]);
  EXPECT_EQ(again[4]["session_id"], "mini-0005");
}

// A stand-in judge (Python http.server on loopback) that checks the request is the official one
// and always returns a ```json-fenced verdict with score "8": parsed by extraction, WB-Score 60.
TEST_F(WildBenchLoopback, FixedJudgeVerdictsAreParsedAndAggregated) {
  PB_REQUIRE_VENV(python);
  Child server(serve_cmd(), dir_ + "/serve.log");
  ASSERT_GT(server.port(), 0) << server.log_text();
  Child judge(python + " " + pt::source_dir() + "/tests/evals/wildbench/fixed_judge.py", dir_ + "/judge.log");
  ASSERT_GT(judge.port(), 0) << judge.log_text();
  const std::string out = dir_ + "/fixed";
  std::string log;
  ASSERT_EQ(pt::run_command(pt::packbench_bin() + " wildbench run --data " + data_file() + " --out " + out +
                                " --model-url " + server.url() + " --judge-url " + judge.url() + " --max-new-tokens 12",
                            &log),
            0)
      << log;
  const json summary = packbench::evals::read_json_file(out + "/summary.json");
  // Blank answers (the random model may give one) get the official fixed verdict, score 1.
  auto records = wb::read_judge_file(out + "/wildbench_judge.json");
  double sum = 0;
  for (const auto& r : records) {
    ASSERT_TRUE(r.score);
    EXPECT_EQ(*r.score, wb::is_blank(r.model_output) ? 1.0 : 8.0);
    EXPECT_EQ(r.raw["judge"]["parse"], wb::is_blank(r.model_output) ? "empty_output" : "extracted");
    sum += *r.score;
  }
  EXPECT_DOUBLE_EQ(summary["mean_score"].get<double>(), sum / 5);
  EXPECT_DOUBLE_EQ(summary["wb_score"].get<double>(), (sum / 5 - 5) * 20);
  EXPECT_EQ(summary["counts"]["unparsable"], 0);
  EXPECT_EQ(summary["groups"].size(), 5u);
  EXPECT_TRUE(summary["wb_score_task_macro"].is_number());
  // `wildbench score` on the written file gives the same numbers.
  std::string printed;
  ASSERT_EQ(pt::run_command(pt::packbench_bin() + " wildbench score --judge-file " + out +
                                "/wildbench_judge.json --data " + data_file() + " 2>/dev/null",
                            &printed),
            0);
  const json rescored = json::parse(printed);
  EXPECT_EQ(rescored["wb_score"], summary["wb_score"]);
  EXPECT_EQ(rescored["wb_score_task_macro"], summary["wb_score_task_macro"]);
}
