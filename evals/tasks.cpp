// The task registry: every benchmark packbench evaluates, by name, with its scorer and its in-process runner.
#include "evals/tasks.h"

#include <fmt/core.h>

#include "core/error.h"
#include "evals/humaneval/humaneval_score.h"
#include "evals/ifeval/ifeval_score.h"
#include "evals/bbh/task_bbh.h"
#include "evals/gsm8k/task_gsm8k.h"
#include "evals/math/task_math.h"
#include "evals/mmlu/task_mmlu.h"

namespace packbench::evals {

const std::vector<TaskEntry>& task_registry() {
  static const std::vector<TaskEntry> tasks = {
      {"mmlu", {}, 5, &score_mmlu, &run_mmlu},
      {"gsm8k", {}, 4, &score_gsm8k, &run_gsm8k},
      {"math", {"minerva_math"}, 4, &score_math, &run_math},
      {"bbh", {"bbh_cot_fewshot"}, 3, &score_bbh, &run_bbh},
      {"ifeval", {}, 0, &score_ifeval, &run_ifeval},
      {"humaneval", {}, 0, &score_humaneval, &run_humaneval},
  };
  return tasks;
}

const TaskEntry& find_task(const std::string& name) {
  std::string known;
  for (const auto& t : task_registry()) {
    if (t.name == name) return t;
    for (const auto& a : t.aliases) {
      if (a == name) return t;
    }
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error(fmt::format("unknown task '{}' (known: {})", name, known));
}

}  // namespace packbench::evals
