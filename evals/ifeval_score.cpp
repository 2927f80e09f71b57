// ifeval as a task: scoring responses from a file and running in-process through a LanguageModel.
#include "evals/ifeval_score.h"

#include "datasets/error.h"

namespace packbench::evals {

TaskScore score_ifeval(const ScoreRequest&) { throw Error("ifeval scoring is not built yet"); }
TaskScore run_ifeval(LanguageModel&, const RunOptions&) { throw Error("ifeval evaluation is not built yet"); }

}  // namespace packbench::evals
