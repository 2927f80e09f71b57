// configs/smol.yaml cut down to minutes: SmolLM2-135M-Instruct from its GGUF, GSM8K train as sharegpt, three methods, Tables 1 and 3.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/atomic_file.h"
#include "core/paths.h"
#include "harness/yaml_json.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

namespace pt = packbench::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A CSV table as rows of column -> field (fields may be quoted, with "" for a quote).
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::istringstream in(packbench::read_file(path));
  auto split = [](const std::string& line) {
    std::vector<std::string> f(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        f.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        f.emplace_back();
      } else {
        f.back() += c;
      }
    }
    return f;
  };
  std::string line;
  std::getline(in, line);
  const auto header = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto f = split(line);
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < header.size() && i < f.size(); ++i) r[header[i]] = f[i];
    rows.push_back(r);
  }
  return rows;
}

double number(const std::map<std::string, std::string>& row, const std::string& key) {
  auto it = row.find(key);
  if (it == row.end() || it->second.empty()) return std::nan("");
  return std::stod(it->second);
}

}  // namespace

TEST(SmolStudy, ThreeMethodsEndToEndOnRealDataAndModel) {
  PB_REQUIRE_SHARED(bench);
  if (packbench::smollm2_gguf().empty()) GTEST_SKIP() << "SmolLM2 GGUF not found: run scripts/setup.sh";
  const fs::path dir = pt::temp_dir("smol-study");
  // The study as configs/smol.yaml has it, with 12 training problems and three generation
  // benchmarks at one document each (MMLU, MATH and BBH take a document per subject, minutes each).
  json cfg = packbench::cli::load_yaml_file(pt::source_dir() + "/configs/smol.yaml");
  cfg["out"] = (dir / "runs").string();
  cfg["datasets"][0]["convert"]["max_samples"] = 12;
  cfg["datasets"][0]["size_label"] = "12";
  cfg["eval"]["tasks"] = json::array({"gsm8k", "ifeval", "humaneval"});
  cfg["eval"]["limit"] = {{"gsm8k", 1}, {"ifeval", 1}, {"humaneval", 1}};
  cfg["eval"]["max_new_tokens"] = 32;
  cfg["eval"]["batch_size"] = 1;
  const std::string yaml = (dir / "smol-tiny.yaml").string();
  packbench::write_file_atomic(yaml, packbench::cli::json_to_yaml(cfg));

  const std::string env = "PACKBENCH_PROGRESS=0 OMP_WAIT_POLICY=PASSIVE PACKBENCH_SHARED=" + bench + " ";
  std::string out;
  ASSERT_EQ(pt::run_command(env + pt::packbench_bin() + " matrix run --config " + yaml + " --table 1", &out), 0) << out;
  ASSERT_EQ(pt::run_command(env + pt::packbench_bin() + " matrix run --config " + yaml + " --table 3", &out), 0) << out;
  EXPECT_NE(out.find("already done, skipped"), std::string::npos) << "Table 3 comes from the same runs\n" << out;

  // The data: GSM8K's first 12 training problems as sharegpt, registered for LLaMA-Factory.
  const fs::path data = dir / "runs" / "_shared" / "data";
  json info = json::parse(packbench::read_file((data / "dataset_info.json").string()));
  EXPECT_EQ(info["gsm8k_train"]["formatting"], "sharegpt");
  json convs = json::parse(packbench::read_file((data / "gsm8k_train.json").string()));
  ASSERT_EQ(convs.size(), 12u);
  EXPECT_EQ(convs[0]["conversations"][0]["value"],
            pt::read_json_lines(bench + "/gsm8k/train.jsonl").at(0)["question"]);

  const std::vector<std::string> methods = {"Padding", "Random Packing", "Greedy Packing"};
  auto t1 = read_csv((dir / "runs" / "tables" / "table1.csv").string());
  ASSERT_EQ(t1.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(methods[i]);
    EXPECT_EQ(t1[i]["dataset"], "GSM8K train Dataset, Size: 12");
    EXPECT_EQ(t1[i]["model"], "SmolLM2-135M-Instruct");
    EXPECT_EQ(t1[i]["method"], methods[i]);
    for (const char* k : {"gsm8k", "ifeval", "humaneval"}) {
      double v = number(t1[i], k);
      EXPECT_TRUE(v == 0.0 || v == 100.0) << k << ": one document scores 0 or 100, got " << t1[i][k];
    }
    EXPECT_TRUE(std::isnan(number(t1[i], "mmlu"))) << "not evaluated: left empty";
  }
  auto t3 = read_csv((dir / "runs" / "tables" / "table3.csv").string());
  ASSERT_EQ(t3.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(methods[i]);
    EXPECT_EQ(t3[i]["method"], methods[i]);
    EXPECT_GT(number(t3[i], "train_runtime"), 0.0);
    EXPECT_GT(number(t3[i], "train_tokens_per_second"), 0.0);
    EXPECT_GE(number(t3[i], "total_steps"), 1.0);
  }
  // Packing 12 problems of ~175 tokens into 1024-token rows leaves 2-3 rows: fewer steps than one
  // padded row per problem, and random packing pads nothing.
  EXPECT_GT(number(t3[0], "total_steps"), number(t3[1], "total_steps"));
  EXPECT_GT(number(t3[0], "total_steps"), number(t3[2], "total_steps"));
  EXPECT_GT(number(t3[0], "padding_fraction"), 0.0);
  EXPECT_EQ(number(t3[1], "padding_fraction"), 0.0);

  // Each cell's evaluation used the chat template it was trained with.
  for (const char* m : {"padding", "random", "greedy"}) {
    json r = json::parse(packbench::read_file(
        (dir / "runs" / ("SmolLM2-135M-Instruct__gsm8k_train__" + std::string(m)) / "eval" / "results.json").string()));
    EXPECT_EQ(r["config"]["chat_template"], "chatml") << m;
    EXPECT_EQ(r["config"]["limit"]["gsm8k"], 1) << m;
  }
}
