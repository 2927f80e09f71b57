// BBH as a task: 3-shot chain-of-thought prompts from cot-prompts/, the answer after "the answer is".
#pragma once

#include <string>

#include "evals/lm_api.h"
#include "evals/score_api.h"
#include "evals/task_runner.h"

namespace packbench::evals {

// The BBH examples at `data_path` ("" = the shared benchmarks), one subtask per BBH task.
PreparedTask prepare_bbh(const std::string& data_path, bool with_prompts);

// `packbench score --task bbh`.
TaskScore score_bbh(const ScoreRequest& req);
// `packbench eval`: generation through lm, see lm_api.h.
TaskScore run_bbh(LanguageModel& lm, const RunOptions& options);

}  // namespace packbench::evals
