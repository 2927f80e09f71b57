// MMLU as a task: 5-shot per-subject prompts, accuracy by the highest log-likelihood of " A" .. " D".
#pragma once

#include <string>

#include "evals/lm_api.h"
#include "evals/score_api.h"
#include "evals/task_runner.h"

namespace packbench::evals {

// The MMLU test questions at `data_path` ("" = the shared benchmarks), subtasks by subject;
// with `with_prompts`, each prompt holds the subject header and its dev split's first 5.
PreparedTask prepare_mmlu(const std::string& data_path, bool with_prompts);

// lm-eval's category of an MMLU subject: "stem", "humanities", "social_sciences", "other";
// "" for a subject outside the 57.
std::string mmlu_category(const std::string& subject);

// `packbench score --task mmlu`.
TaskScore score_mmlu(const ScoreRequest& req);
// `packbench eval`: log-likelihoods through lm, see lm_api.h.
TaskScore run_mmlu(LanguageModel& lm, const RunOptions& options);

}  // namespace packbench::evals
