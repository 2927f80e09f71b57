// `packbench eval` against lm-evaluation-harness on SmolLM2-135M-Instruct: the same prompts, log-likelihoods, generations and verdicts per document.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/paths.h"
#include "tests/common/test_files.h"
#include "tests/common/test_paths.h"

namespace fs = std::filesystem;
namespace pt = packbench::testing;
using json = nlohmann::json;

namespace {

// Documents per task (per subject / subtask where a task has them) and the generation length on
// both sides: small enough for two CPU cores, the same settings on both sides.
constexpr int kLimit = 1;
constexpr int kMaxNewTokens = 64;
const char* kTasks = "mmlu,gsm8k,math,bbh,ifeval,humaneval";

// A benchmark root of links into the shared folder: three MMLU subjects, two BBH tasks, the rest whole.
std::string parity_root(const fs::path& dir, const fs::path& shared) {
  const fs::path root = dir / "benchmarks";
  auto link = [&](const fs::path& rel) {
    fs::create_directories((root / rel).parent_path());
    fs::create_symlink(shared / rel, root / rel);
  };
  for (const char* s : {"abstract_algebra", "high_school_geography", "marketing"}) {
    link(fs::path("mmlu/test") / (std::string(s) + "_test.csv"));
    link(fs::path("mmlu/dev") / (std::string(s) + "_dev.csv"));
  }
  for (const char* t : {"boolean_expressions", "navigate"}) {
    link(fs::path("bbh/bbh") / (std::string(t) + ".json"));
    link(fs::path("bbh/cot-prompts") / (std::string(t) + ".txt"));
  }
  for (const char* f : {"gsm8k/train.jsonl", "gsm8k/test.jsonl", "math/test.jsonl", "ifeval/input_data.jsonl",
                        "humaneval/HumanEval.jsonl.gz"})
    link(f);
  return root.string();
}

struct Parity : ::testing::Test {
  static void SetUpTestSuite() {
    const std::string gguf = packbench::smollm2_gguf();
    const std::string shared = pt::shared_benchmarks(), python = pt::venv_python();
    if (gguf.empty() || shared.empty() || python.empty()) return;
    const fs::path dir = pt::temp_dir("lm_eval_parity");
    const std::string model = (dir / "smollm2").string(), root = parity_root(dir, shared);
    log = new std::string;
    if (int rc = pt::run_packbench("model import --gguf " + gguf + " --out " + model, log); rc != 0) return;
    std::string out;
    if (pt::run_command(fmt::format("PACKBENCH_PROGRESS=0 {} eval --checkpoint {} --tasks {} --limit {} --data-root {} "
                                    "--chat-template off --max-new-tokens {} --out {}",
                                    pt::packbench_bin(), model, kTasks, kLimit, root, kMaxNewTokens,
                                    (dir / "packbench").string()),
                        &out) != 0) {
      *log += out;
      return;
    }
    if (pt::run_command(fmt::format("{} {}/scripts/reference/lm_eval_parity.py --model {} --data-root {} --tasks {} "
                                    "--limit {} --max-gen-toks {} --out {}",
                                    python, pt::source_dir(), model, root, kTasks, kLimit, kMaxNewTokens,
                                    (dir / "lm_eval").string()),
                        &out) != 0) {
      *log += out;
      return;
    }
    reference = new std::vector<json>(pt::read_json_lines(dir / "lm_eval" / "reference.jsonl"));
    ours = new std::map<std::string, std::vector<json>>;
    for (const std::string task : {"mmlu", "gsm8k", "math", "bbh", "ifeval", "humaneval"})
      (*ours)[task] = pt::read_json_lines(dir / "packbench" / task / "samples.jsonl");
  }
  void SetUp() override {
    if (packbench::smollm2_gguf().empty()) GTEST_SKIP() << "SmolLM2 GGUF not found: run scripts/setup.sh";
    PB_REQUIRE_SHARED(shared);
    PB_REQUIRE_VENV(python);
    ASSERT_NE(reference, nullptr) << *log;
  }

  // lm-eval's records of one task, with packbench's record of the same document beside each.
  static std::vector<std::pair<json, json>> pairs(const std::string& task) {
    std::map<std::pair<std::string, int64_t>, json> by_doc;
    for (const auto& s : ours->at(task)) {
      const std::string sub = s.value("subtask", "");
      const int64_t id = s.contains("subtask_doc_id") ? s["subtask_doc_id"].get<int64_t>() : s["doc_id"].get<int64_t>();
      by_doc[{sub, id}] = s;
    }
    std::vector<std::pair<json, json>> out;
    for (const auto& r : *reference) {
      if (r["task"] != task) continue;
      auto it = by_doc.find({r["subtask"].get<std::string>(), r["doc_id"].get<int64_t>()});
      EXPECT_NE(it, by_doc.end()) << "packbench has no record for " << r.dump().substr(0, 300);
      if (it != by_doc.end()) out.emplace_back(r, it->second);
    }
    return out;
  }
  static inline std::string* log = nullptr;
  static inline std::vector<json>* reference = nullptr;
  static inline std::map<std::string, std::vector<json>>* ours = nullptr;
};

std::string where(const json& r) {
  return fmt::format("{} {} doc {}", r["task"].get<std::string>(), r["subtask"].get<std::string>(),
                     r["doc_id"].get<int64_t>());
}

// Generation tasks: the same prompt and, decoding greedily in fp32, the same text. packbench's
// IFEval and HumanEval records are in those benchmarks' own formats (`response`, `completion`).
void expect_same_generation(const json& ref, const json& pb) {
  if (pb.contains("prompt")) EXPECT_EQ(pb["prompt"], ref["prompt"]) << where(ref);
  const json& text = pb.contains("resps") ? pb["resps"][0][0] : pb.contains("response") ? pb["response"] : pb["completion"];
  EXPECT_EQ(text, ref["response"]) << where(ref);
}

TEST_F(Parity, MmluLoglikelihoodsAndChoices) {
  const auto p = pairs("mmlu");
  EXPECT_EQ(p.size(), 3u * kLimit);
  double worst = 0;
  for (const auto& [ref, pb] : p) {
    EXPECT_EQ(pb["prompt"], ref["prompt"]) << where(ref);
    ASSERT_EQ(pb["resps"].size(), 4u) << where(ref);
    for (size_t i = 0; i < 4; ++i) {
      const double d = std::abs(pb["resps"][i][0].get<double>() - ref["loglikelihoods"][i].get<double>());
      worst = std::max(worst, d);
      EXPECT_LT(d, 1e-4) << where(ref) << " choice " << i;
    }
    EXPECT_EQ(pb["acc,none"].get<double>(), ref["metrics"]["acc"].get<double>()) << where(ref);
  }
  std::printf("MMLU: %zu documents, largest log-likelihood difference %.2e\n", p.size(), worst);
}

TEST_F(Parity, Gsm8kGenerationsAndBothFilters) {
  const auto p = pairs("gsm8k");
  EXPECT_EQ(p.size(), 2u * kLimit);  // one lm-eval record per filter
  for (const auto& [ref, pb] : p) {
    expect_same_generation(ref, pb);
    const std::string f = ref["filter"];
    EXPECT_EQ(pb["filtered_resps"][f], ref["filtered"][f]) << where(ref) << " " << f;
    EXPECT_EQ(pb["exact_match," + f].get<double>(), ref["metrics"]["exact_match"].get<double>()) << where(ref) << " " << f;
  }
}

TEST_F(Parity, MathGenerationsAndVerdicts) {
  const auto p = pairs("math");
  EXPECT_EQ(p.size(), 7u * kLimit);
  for (const auto& [ref, pb] : p) {
    expect_same_generation(ref, pb);
    EXPECT_EQ(pb["exact_match,none"].get<double>(), ref["metrics"]["exact_match"].get<double>()) << where(ref);
  }
}

TEST_F(Parity, BbhGenerationsAndAnswers) {
  const auto p = pairs("bbh");
  EXPECT_EQ(p.size(), 2u * kLimit);
  for (const auto& [ref, pb] : p) {
    expect_same_generation(ref, pb);
    EXPECT_EQ(pb["filtered_resps"]["get-answer"], ref["filtered"]["get-answer"]) << where(ref);
    EXPECT_EQ(pb["exact_match,get-answer"].get<double>(), ref["metrics"]["exact_match"].get<double>()) << where(ref);
  }
}

TEST_F(Parity, IfevalGenerationsAndVerdicts) {
  const auto p = pairs("ifeval");
  EXPECT_EQ(p.size(), static_cast<size_t>(kLimit));
  for (const auto& [ref, pb] : p) {
    expect_same_generation(ref, pb);
    // packbench writes the official IFEval output: a verdict per prompt and one per instruction.
    for (const char* level : {"strict", "loose"}) {
      const std::string prompt_level = std::string("prompt_level_") + level + "_acc";
      EXPECT_EQ(pb[prompt_level].get<bool>(), ref["metrics"][prompt_level].get<bool>()) << where(ref) << " " << level;
      EXPECT_EQ(pb[std::string("follow_instruction_list_") + level], ref["metrics"][std::string("inst_level_") + level + "_acc"])
          << where(ref) << " " << level;
    }
  }
}

TEST_F(Parity, HumanevalGenerationsAndVerdicts) {
  const auto p = pairs("humaneval");
  EXPECT_EQ(p.size(), static_cast<size_t>(kLimit));
  for (const auto& [ref, pb] : p) {
    expect_same_generation(ref, pb);
    EXPECT_EQ(pb["passed"].get<bool>() ? 1.0 : 0.0, ref["metrics"]["humaneval_pass_at_1"].get<double>()) << where(ref);
  }
}

}  // namespace
