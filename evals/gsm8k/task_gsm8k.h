// GSM8K as a task: 4-shot "Question: ...\nAnswer:" prompts, strict-match and flexible-extract scoring.
#pragma once

#include <string>

#include "evals/lm_api.h"
#include "evals/score_api.h"
#include "evals/task_runner.h"

namespace packbench::evals {

// The test docs of GSM8K at `data_path` ("" = the shared benchmarks). With `with_prompts`,
// builds the few-shot prompts from the train split next to the test file.
PreparedTask prepare_gsm8k(const std::string& data_path, bool with_prompts);

// `packbench score --task gsm8k`.
TaskScore score_gsm8k(const ScoreRequest& req);
// `packbench eval`: generation through lm, see lm_api.h.
TaskScore run_gsm8k(LanguageModel& lm, const RunOptions& options);

}  // namespace packbench::evals
