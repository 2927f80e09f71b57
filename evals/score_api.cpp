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
  auto add = [&](const TaskScore& s, const std::string& alias) {
    nlohmann::json r = {{"alias", alias}};
    for (auto it = s.metrics.begin(); it != s.metrics.end(); ++it) r[it.key()] = it.value();
    out["results"][s.task] = r;
    out["n-shot"][s.task] = s.n_shot;
    out["n-samples"][s.task] = {{"original", s.n_samples}, {"effective", s.n_samples}};
    out["versions"][s.task] = s.version;
    if (!s.config.empty() || alias == s.task) out["configs"][s.task] = s.config;
  };
  for (const auto& s : scores) {
    add(s, s.task);
    if (s.subtasks.empty()) continue;
    nlohmann::json names = nlohmann::json::array();
    for (const auto& sub : s.subtasks) {
      add(sub, " - " + sub.task);
      names.push_back(sub.task);
    }
    out["group_subtasks"][s.task] = names;
  }
  out["packbench_version"] = "0.1.0";
  return out;
}

}  // namespace packbench::evals
