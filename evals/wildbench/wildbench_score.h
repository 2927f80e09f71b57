// WildBench judge files (WildBench's own per-model format) and their aggregation into the leaderboard's WB-Scores.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evals/wildbench/wildbench_data.h"

namespace packbench::evals::wildbench {

// One record of a judge file. The file is a JSON list as in allenai/WildBench
// eval_results/v2.0625/score.v2/eval=<judge>/<model>.json: {"session_id", "parsed_result",
// "meta_data": {"usage", "error"}, "model_test", "score", "model_output"}; packbench adds "judge"
// ({"model", "url", "result" (the raw verdict), "parsed", "parse", "problem", "prompt"}).
// A record whose verdict was unparsable has "score": null and judge.parsed = false.
struct JudgeRecord {
  std::string session_id;
  std::string model_test;
  std::string model_output;
  std::optional<double> score;   // float(score); nullopt for an unparsable verdict
  nlohmann::json raw;            // the record as read or written
};

// Reads a judge file (published or packbench's). Required per record: session_id (string),
// model_output (string, or a list whose first item is used), and a score ("score", else
// "parsed_result.score", as the leaderboard script reads Claude-judged files) that float()
// accepts, unless judge.parsed is false. Errors name the file, the record index and the field.
std::vector<JudgeRecord> read_judge_file(const std::string& path);
// Writes records as an indented JSON list, atomically.
void write_judge_file(const std::string& path, const std::vector<JudgeRecord>& records);

// The five merged task groups and the leaderboard's weights for the task macro
// (leaderboard/data_dir/_create_tables.py: task_group_new and weights_by_task).
const std::vector<std::string>& group_names();
double group_weight(const std::string& group);
// The group a WildBench tag belongs to; nullopt for a tag the map does not know.
std::optional<std::string> group_of_tag(const std::string& tag);
// The distinct groups of a task's primary_tag and secondary_tags. Throws packbench::Error naming
// the session and the tag when a tag is not one of WildBench's twelve.
std::vector<std::string> task_groups(const Task& task);

struct GroupScore {
  double mean = 0;      // mean judge score of the group's records
  double wb_score = 0;  // (mean - 5) * 2 * 10
  int64_t n = 0;
};

// The leaderboard numbers of one judge file, computed as _create_tables.py ("score" action)
// and _merge_results.py compute them:
//   mean_score    = mean of every scored record's score
//   wb_score      = (mean_score - 5) * 2 * 10                        (WB_score)
//   groups[g]     = over scored records whose output is non-empty and does not end in
//                   "... (truncated)": (mean - 5) * 2 * 10 per task group (WB_score.<group>)
//   wb_score_task_macro = sum_g groups[g] * w_g / sum of all five weights   (WB_score.task_macro)
//   avg_len       = mean length (Unicode code points) of the outputs counted in the groups
// Records without a score (unparsable verdicts) are excluded from everything and counted; so are
// records of sessions without task tags (from the groups only). `tags` maps session_id to its
// groups; empty = groups not computed.
struct Summary {
  int64_t records = 0, scored = 0;
  double mean_score = 0, mean_score_stderr = 0, wb_score = 0, wb_score_stderr = 0, wb_score_task_macro = 0;
  double avg_len = 0;
  std::map<std::string, GroupScore> groups;
  // Why records were left out: reason -> count, and the session ids.
  std::map<std::string, int64_t> excluded;
  std::map<std::string, std::vector<std::string>> excluded_sessions;
  nlohmann::json to_json() const;
};
Summary aggregate(const std::vector<JudgeRecord>& records,
                  const std::map<std::string, std::vector<std::string>>& tags = {});
// session_id -> task_groups(task) for every task.
std::map<std::string, std::vector<std::string>> groups_by_session(const std::vector<Task>& tasks);

// Reasons used in Summary::excluded.
inline constexpr const char* kUnparsable = "unparsable verdict (excluded from all scores)";
inline constexpr const char* kEmptyOutput = "empty output (in the mean, not in the groups or length)";
inline constexpr const char* kTruncated = "output ends in '... (truncated)' (in the mean, not in the groups or length)";
inline constexpr const char* kUntagged = "no task tags for the session (in the mean, not in the groups)";

// Unicode code points in UTF-8 text (Python's len()).
int64_t code_points(const std::string& text);

}  // namespace packbench::evals::wildbench
