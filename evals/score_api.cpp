// The contract between `packbench score`/`packbench eval` and each task's scorer.
#include "evals/score_api.h"

namespace packbench::evals {

nlohmann::json results_json(const std::vector<TaskScore>& scores) {
  nlohmann::json out;
  out["results"] = nlohmann::json::object();
  out["n-shot"] = nlohmann::json::object();
  out["n-samples"] = nlohmann::json::object();
  out["versions"] = nlohmann::json::object();
  out["configs"] = nlohmann::json::object();
  for (const auto& s : scores) {
    nlohmann::json r = {{"alias", s.task}};
    for (auto it = s.metrics.begin(); it != s.metrics.end(); ++it) r[it.key()] = it.value();
    out["results"][s.task] = r;
    out["n-shot"][s.task] = s.n_shot;
    out["n-samples"][s.task] = {{"original", s.n_samples}, {"effective", s.n_samples}};
    out["versions"][s.task] = s.version;
    out["configs"][s.task] = s.config;
  }
  out["packbench_version"] = "0.1.0";
  return out;
}

}  // namespace packbench::evals
