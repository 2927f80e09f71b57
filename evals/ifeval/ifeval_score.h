// ifeval as a task: scoring responses from a file and running in-process through a LanguageModel.
#pragma once

#include "evals/lm_api.h"
#include "evals/score_api.h"

namespace packbench::evals {

// `packbench score --task ifeval`: reads req.responses_path, writes <out_dir>/samples.jsonl.
TaskScore score_ifeval(const ScoreRequest& req);
// `packbench eval`: builds the prompts, generates through lm, scores, writes out_dir.
TaskScore run_ifeval(LanguageModel& lm, const RunOptions& options);

}  // namespace packbench::evals
