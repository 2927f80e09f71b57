// MATH as a task (lm-eval's minerva_math): the 4-shot Minerva prompt, final-answer extraction, equivalence.
#pragma once

#include <string>

#include "evals/lm_api.h"
#include "evals/score_api.h"
#include "evals/task_runner.h"

namespace packbench::evals {

// The MATH test problems at `data_path` ("" = the shared benchmarks), subtasks by subject.
PreparedTask prepare_math(const std::string& data_path, bool with_prompts);
// lm-eval's subtask name for a MATH "type": "Counting & Probability" -> "minerva_math_counting_and_prob".
std::string math_subtask_name(const std::string& type);

// `packbench score --task math` (alias minerva_math).
TaskScore score_math(const ScoreRequest& req);
// `packbench eval`: generation through lm, see lm_api.h.
TaskScore run_math(LanguageModel& lm, const RunOptions& options);

}  // namespace packbench::evals
