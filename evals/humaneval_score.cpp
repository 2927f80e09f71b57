// humaneval as a task: scoring responses from a file and running in-process through a LanguageModel.
#include "evals/humaneval_score.h"

#include "datasets/error.h"

namespace packbench::evals {

TaskScore score_humaneval(const ScoreRequest&) { throw Error("humaneval scoring is not built yet"); }
TaskScore run_humaneval(LanguageModel&, const RunOptions&) { throw Error("humaneval evaluation is not built yet"); }

}  // namespace packbench::evals
