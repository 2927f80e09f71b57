// WildBench aggregation: judge files in WildBench's format (published ones included), WB-Score, groups, task macro, exclusions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/records.h"
#include "evals/wildbench/wildbench_data.h"
#include "evals/wildbench/wildbench_score.h"
#include "tests/common/test_paths.h"

namespace pt = packbench::testing;
namespace wb = packbench::evals::wildbench;
using ::testing::HasSubstr;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) { return pt::fixtures_dir() + "/wildbench/" + name; }

wb::JudgeRecord rec(const std::string& sid, std::optional<double> score, const std::string& out = "an answer") {
  wb::JudgeRecord r;
  r.session_id = sid;
  r.score = score;
  r.model_output = out;
  return r;
}

}  // namespace

// The first three records of two published judge files (allenai/WildBench
// eval_results/v2.0625/score.v2/eval=gpt-4o-2024-05-13/, see tests/fixtures/wildbench/SOURCE.md).
// Expected values by hand from leaderboard/data_dir/_create_tables.py's "score" action:
// score = mean of all scores; adjusted_score = (score - 5) * 2; WB_score = adjusted_score * 10
// (_merge_results.py); avg_len over non-empty, non-truncated outputs (Python len = code points).
TEST(WildBenchScore, PublishedJudgeFilesReadBackAndAggregate) {
  auto g = wb::read_judge_file(fixture("gemma-2b-it.first3.json"));
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].session_id, "ae006110bb364606");
  EXPECT_EQ(g[0].model_test, "google/gemma-2b-it");
  auto s = wb::aggregate(g);
  EXPECT_EQ(s.records, 3);
  EXPECT_EQ(s.scored, 3);
  EXPECT_DOUBLE_EQ(s.mean_score, 4.0);    // (1 + 7 + 4) / 3
  EXPECT_DOUBLE_EQ(s.wb_score, -20.0);    // (4 - 5) * 2 * 10
  EXPECT_DOUBLE_EQ(s.avg_len, 2464.5);    // (2591 + 2338) / 2: the empty output is left out
  EXPECT_EQ(s.excluded.at(wb::kEmptyOutput), 1);

  auto r = wb::aggregate(wb::read_judge_file(fixture("reka-edge.first3.json")));
  EXPECT_DOUBLE_EQ(r.mean_score, 3.0);    // (1 + 4 + 4) / 3
  EXPECT_DOUBLE_EQ(r.wb_score, -40.0);
  EXPECT_DOUBLE_EQ(r.avg_len, 1192.0);    // (1071 + 1313) / 2

  // Without the sessions' tags (the WildBench rows are not in the repository) the groups are left
  // out and every scored, non-empty record is counted as untagged.
  std::map<std::string, std::vector<std::string>> tags = {{"nobody", {"Creative Tasks"}}};
  auto u = wb::aggregate(g, tags);
  EXPECT_EQ(u.excluded.at(wb::kUntagged), 2);
  EXPECT_TRUE(u.groups.empty());
}

namespace {

// A published judge file rebuilt from its extract (tests/fixtures/wildbench/published/, see
// SOURCE.md): every record of allenai/WildBench's file with its session_id, its "score" and
// parsed_result.score as published, and model_output "" where the published output is empty, else a
// stand-in text (the extract does not keep the outputs, so avg_len is not checked from it).
std::string judge_file_from_extract(const std::string& model) {
  std::istringstream text(packbench::read_file(fixture("published/" + model + ".scores.tsv")));
  json records = json::array();
  std::string line;
  std::getline(text, line);  // the header
  while (std::getline(text, line)) {
    std::istringstream cells(line);
    std::vector<std::string> f;
    for (std::string cell; std::getline(cells, cell, '\t');) f.push_back(cell);
    EXPECT_EQ(f.size(), 4u) << line;
    if (f.size() != 4) break;
    records.push_back({{"session_id", f[0]},
                       {"parsed_result", {{"score", f[2]}}},
                       {"model_test", "google/" + model},
                       {"score", f[1]},
                       {"model_output", f[3] == "empty" ? "" : "(output not kept in the extract)"}});
  }
  const std::string path = pt::temp_dir("wb_published") + "/" + model + ".json";
  packbench::write_file_atomic(path, records.dump(2));
  return path;
}

}  // namespace

// Whole published judge files (every record's score, as extracted) aggregated by packbench give the
// leaderboard's own figures in allenai/WildBench leaderboard/data_dir/score.json: total, score (the
// mean) and adjusted_score (x10 = WB_score), to the last bit. The groups and task macro need every
// session's tags from the Hugging Face dataset, which is not available here (see docs/wildbench.md).
TEST(WildBenchScore, WholePublishedJudgeFilesGiveTheLeaderboardScores) {
  const json published = packbench::evals::read_json_file(fixture("published/leaderboard_score.json"));
  for (const std::string model : {"gemma-2b-it", "gemma-7b-it"}) {
    SCOPED_TRACE(model);
    const json& want = published.at(model);
    auto records = wb::read_judge_file(judge_file_from_extract(model));
    auto s = wb::aggregate(records);
    EXPECT_EQ(s.records, want.at("total").get<int64_t>());
    EXPECT_EQ(s.scored, want.at("total").get<int64_t>());
    EXPECT_EQ(s.mean_score, want.at("score").get<double>());
    EXPECT_EQ(s.wb_score, want.at("adjusted_score").get<double>() * 10);
    // Both files have one empty answer (session ae006110bb364606): the leaderboard keeps it in the
    // mean. Leaving it out, as the groups and avg_len do, would not give the published score.
    ASSERT_EQ(s.excluded.at(wb::kEmptyOutput), 1);
    EXPECT_EQ(s.excluded_sessions.at(wb::kEmptyOutput), std::vector<std::string>{"ae006110bb364606"});
    std::vector<wb::JudgeRecord> without_empty;
    for (const auto& r : records)
      if (!r.model_output.empty()) without_empty.push_back(r);
    EXPECT_NE(wb::aggregate(without_empty).mean_score, want.at("score").get<double>());
  }
}

TEST(WildBenchScore, WrittenFilesReadBackUnchanged) {
  auto g = wb::read_judge_file(fixture("gemma-2b-it.first3.json"));
  const std::string path = pt::temp_dir("wb_score") + "/copy.json";
  wb::write_judge_file(path, g);
  auto back = wb::read_judge_file(path);
  ASSERT_EQ(back.size(), g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_EQ(back[i].raw, g[i].raw);
    EXPECT_EQ(back[i].score, g[i].score);
  }
}

TEST(WildBenchScore, GroupsAndTaskMacroWithTheOfficialMapAndWeights) {
  auto tasks = wb::load_tasks(fixture("mini_tasks.jsonl"));
  auto tags = wb::groups_by_session(tasks);
  // mini-0002: Creative Writing + Editing + Others -> one group, counted once.
  EXPECT_THAT(tags.at("mini-0002"), ::testing::ElementsAre("Creative Tasks"));
  // mini-0004: Planning + Information seeking + Advice seeking -> two groups.
  EXPECT_THAT(tags.at("mini-0004"), ::testing::ElementsAre("Planning & Reasoning", "Information/Advice seeking"));
  std::vector<wb::JudgeRecord> recs = {rec("mini-0001", 6), rec("mini-0002", 8), rec("mini-0003", 3),
                                       rec("mini-0004", 7), rec("mini-0005", 4)};
  auto s = wb::aggregate(recs, tags);
  EXPECT_DOUBLE_EQ(s.mean_score, 5.6);
  EXPECT_NEAR(s.wb_score, 12.0, 1e-12);
  // Math & Data Analysis: mini-0001 (6), mini-0005 (4) -> mean 5 -> 0.
  EXPECT_DOUBLE_EQ(s.groups.at("Math & Data Analysis").wb_score, 0.0);
  EXPECT_EQ(s.groups.at("Math & Data Analysis").n, 2);
  // Planning & Reasoning: mini-0001 (6, Reasoning), mini-0004 (7) -> 6.5 -> 30.
  EXPECT_DOUBLE_EQ(s.groups.at("Planning & Reasoning").wb_score, 30.0);
  EXPECT_DOUBLE_EQ(s.groups.at("Creative Tasks").wb_score, 60.0);
  EXPECT_DOUBLE_EQ(s.groups.at("Coding & Debugging").wb_score, -40.0);
  EXPECT_DOUBLE_EQ(s.groups.at("Information/Advice seeking").wb_score, 40.0);
  // sum(w * g) / sum(all weights): (0.5*60 + 1.25*30 + 1*0 + 0.75*40 + 1.25*-40) / 4.75
  EXPECT_NEAR(s.wb_score_task_macro, (30.0 + 37.5 + 0 + 30.0 - 50.0) / 4.75, 1e-12);
  // A group with no records still counts in the denominator, as in the leaderboard script.
  auto only = wb::aggregate({rec("mini-0003", 10)}, tags);
  EXPECT_NEAR(only.wb_score_task_macro, 1.25 * 100 / 4.75, 1e-12);
}

TEST(WildBenchScore, ExclusionsAreCountedWithTheirReasons) {
  std::vector<wb::JudgeRecord> recs = {rec("a", 9), rec("b", std::nullopt), rec("c", 1, ""),
                                       rec("d", 5, "long text... (truncated)"), rec("e", 7)};
  std::map<std::string, std::vector<std::string>> tags = {{"a", {"Creative Tasks"}}, {"c", {"Creative Tasks"}},
                                                          {"d", {"Creative Tasks"}}};
  auto s = wb::aggregate(recs, tags);
  EXPECT_EQ(s.records, 5);
  EXPECT_EQ(s.scored, 4);
  EXPECT_DOUBLE_EQ(s.mean_score, (9 + 1 + 5 + 7) / 4.0);  // empty and truncated outputs stay in the mean
  EXPECT_EQ(s.excluded.at(wb::kUnparsable), 1);
  EXPECT_EQ(s.excluded_sessions.at(wb::kUnparsable), std::vector<std::string>{"b"});
  EXPECT_EQ(s.excluded.at(wb::kEmptyOutput), 1);
  EXPECT_EQ(s.excluded.at(wb::kTruncated), 1);
  EXPECT_EQ(s.excluded.at(wb::kUntagged), 1);  // "e"
  EXPECT_EQ(s.groups.at("Creative Tasks").n, 1);
  EXPECT_DOUBLE_EQ(s.groups.at("Creative Tasks").wb_score, 80.0);
  json j = s.to_json();
  EXPECT_EQ(j["counts"]["unparsable"], 1);
  EXPECT_EQ(j["excluded"][wb::kUnparsable]["session_ids"][0], "b");
  // Standard error of the WB-Score: 20 x the sample standard error of the mean.
  const double m = s.mean_score;
  double ss = 0;
  for (double x : {9.0, 1.0, 5.0, 7.0}) ss += (x - m) * (x - m);
  EXPECT_NEAR(s.wb_score_stderr, 20 * std::sqrt(ss / 3 / 4), 1e-12);
}

TEST(WildBenchScore, BadJudgeFilesNameRecordAndField) {
  const std::string dir = pt::temp_dir("wb_score_bad");
  auto err = [&](const std::string& text) {
    packbench::write_file_atomic(dir + "/f.json", text);
    try {
      wb::read_judge_file(dir + "/f.json");
    } catch (const packbench::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_THAT(err(R"([{"session_id": "s", "model_output": "x", "score": "7"}, {"session_id": "t", "model_output": "y"}])"),
              HasSubstr("record 1 (session_id t): field 'score' is missing"));
  EXPECT_THAT(err(R"([{"session_id": "s", "model_output": "x", "score": "ten"}])"), HasSubstr("'ten' is not a number"));
  EXPECT_THAT(err(R"([{"session_id": "s", "score": "7"}])"), HasSubstr("model_output"));
  // A recorded unparsable verdict reads back with no score; a Claude-style file has it in parsed_result.
  auto ok = [&](const std::string& text) {
    packbench::write_file_atomic(dir + "/g.json", text);
    return wb::read_judge_file(dir + "/g.json");
  };
  EXPECT_FALSE(ok(R"([{"session_id": "s", "model_output": "x", "score": null, "judge": {"parsed": false}}])")[0].score);
  EXPECT_EQ(*ok(R"([{"session_id": "s", "model_output": ["x"], "parsed_result": {"score": "6"}}])")[0].score, 6.0);
}
