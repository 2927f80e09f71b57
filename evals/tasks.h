// The task registry: every benchmark packbench evaluates, by name, with its scorer and its in-process runner.
#pragma once

#include <string>
#include <vector>

#include "evals/lm_api.h"
#include "evals/score_api.h"

namespace packbench::evals {

struct TaskEntry {
  std::string name;                 // "mmlu", "gsm8k", "math", "bbh", "ifeval", "humaneval"
  std::vector<std::string> aliases;  // e.g. "minerva_math" for "math"
  int n_shot = 0;                   // as Table 1 of the paper reports it
  TaskScore (*score)(const ScoreRequest&);
  TaskScore (*run)(LanguageModel&, const RunOptions&);
};

// The six benchmarks of the paper, in Table 1's order.
const std::vector<TaskEntry>& task_registry();
// The entry for a name or alias; throws Error listing the known names otherwise.
const TaskEntry& find_task(const std::string& name);

}  // namespace packbench::evals
