// Running a declared task: per-doc scoring, aggregation, in-process runs with resume, scoring from files.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "evals/lm_api.h"
#include "evals/score_api.h"
#include "evals/task_config.h"

namespace packbench::evals {

// One evaluation doc of a task, ready to prompt and score.
struct TaskDoc {
  int64_t doc_id = 0;           // index within the whole task (all subtasks, in order)
  std::string subtask;          // e.g. MMLU subject, BBH task, MATH subject; "" = none
  int64_t subtask_doc_id = 0;   // index within the subtask (lm-eval's doc_id for subtasks)
  nlohmann::json doc;           // the record as lm-eval shows it in samples
  std::string match_key;        // text that identifies the doc in a responses file (question...)
  std::string prompt;           // full context with few-shot exemplars ("" until built)
  std::string target;           // generation: the reference the filtered answer is compared with
  std::vector<std::string> choices;  // multiple choice: continuations (" A" .. " D")
  int gold = -1;                // multiple choice: index of the right continuation
};

struct PreparedTask {
  TaskConfig config;
  std::string data_path;
  std::vector<TaskDoc> docs;
  // subtask -> name of its results entry (e.g. "abstract_algebra" -> "mmlu_abstract_algebra")
  std::function<std::string(const std::string&)> subtask_name;
  // subtask -> category (MMLU: stem, humanities, social_sciences, other); "" = none. Each
  // category gets "<metric>_<category>,<filter>" over all its samples, with its stderr.
  std::function<std::string(const std::string&)> subtask_category;
};

// Scores one generated response: {"resps", "filtered_resps", "<metric>,<filter>": 0/1, ...}.
nlohmann::json score_generation(const TaskConfig& config, const TaskDoc& doc, const std::string& response);
// Scores multiple-choice log-likelihoods (one per choice): {"resps", "pred", "acc,none", ...}.
nlohmann::json score_choices(const TaskConfig& config, const TaskDoc& doc, const std::vector<double>& logprobs,
                             const std::vector<bool>& greedy = {});

// Aggregates scored records (each holding "doc_id", "subtask" and metric keys) into a
// TaskScore: mean and stderr per "metric,filter", per-subtask entries, and for tasks with
// subtasks also "<metric>_macro,<filter>" (unweighted mean over subtasks).
TaskScore aggregate_records(const PreparedTask& task, const std::vector<nlohmann::json>& records,
                            const nlohmann::json& extra_config = {});

// In-process run (see lm_api.h RunOptions): prompts through `lm` in batches, appends each
// scored record to <out_dir>/samples.jsonl as it goes, reuses records already there (resume;
// a record whose prompt differs from the current one is an error), writes results.json.
// `docs` must have prompts built. `limit` is applied per subtask when the task has subtasks.
TaskScore run_prepared_task(const PreparedTask& task, LanguageModel& lm, const RunOptions& options);

// `packbench score`: reads req.responses_path (lm-eval samples: doc_id, doc, resps /
// filtered_resps; or {"doc_id", "response"}; multiple choice also {"doc_id", "loglikelihoods"}),
// scores each line against its doc, writes <out_dir>/samples.jsonl (input order) and
// results.json. Bad records throw Error naming file and line.
TaskScore score_prepared_task(const PreparedTask& task, const ScoreRequest& req);

}  // namespace packbench::evals
