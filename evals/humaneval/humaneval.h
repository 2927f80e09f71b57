// HumanEval: loading the problems, building the programs that test a completion, running them.
#pragma once

#include "evals/humaneval/sandbox.h"

#include <string>
#include <vector>

namespace packbench::evals {

// One problem of openai/human-eval's HumanEval.jsonl(.gz).
struct HumanEvalProblem {
  std::string task_id;             // "HumanEval/0"
  std::string prompt;              // signature and docstring: the model continues it
  std::string canonical_solution;  // the reference body
  std::string test;                // defines check(candidate)
  std::string entry_point;         // the function check() is called with
};

// Reads HumanEval.jsonl or HumanEval.jsonl.gz (gzip detected from the content, not the name).
// Blank lines are skipped. Throws packbench::Error naming the file, line and field for a
// malformed line, a missing or non-string field, or a repeated task_id.
std::vector<HumanEvalProblem> load_humaneval(const std::string& path);

// The problems file for `data_path`: a file is itself; a folder holds HumanEval.jsonl.gz or
// HumanEval.jsonl (directly or under humaneval/); "" means the shared benchmarks folder
// ($PACKBENCH_SHARED, else shared/benchmarks above the working directory or the executable).
// Throws packbench::Error when nothing is found.
std::string resolve_humaneval_path(const std::string& data_path);

// The program human-eval runs: prompt + completion + "\n" + test + "\n" + "check(entry_point)".
std::string humaneval_program(const HumanEvalProblem& problem, const std::string& completion);

// Generation settings of lm-evaluation-harness's humaneval task: the prompt itself as the
// context (0-shot), greedy, these stop sequences, at most 1024 new tokens.
const std::vector<std::string>& humaneval_stop_sequences();
constexpr int kHumanEvalMaxGenToks = 1024;

// Runs every program in the sandbox on `threads` workers (0 = all cores), results in input
// order, with a progress bar labelled `label` ("" = none). Exceptions (a sandbox that cannot
// start) propagate after the workers stop.
std::vector<SandboxResult> run_programs(const Sandbox& sandbox, const std::vector<std::string>& programs, int threads,
                                        const std::string& label = "");

}  // namespace packbench::evals
