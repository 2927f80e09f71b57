// MATH as a task (lm-eval's minerva_math): the 4-shot Minerva prompt, final-answer extraction, equivalence.
#include "evals/math/task_math.h"

#include <map>

#include "evals/loaders.h"
#include "evals/math/math_answer.h"

namespace packbench::evals {

std::string math_subtask_name(const std::string& type) {
  static const std::map<std::string, std::string> names = {
      {"Algebra", "algebra"},
      {"Counting & Probability", "counting_and_prob"},
      {"Geometry", "geometry"},
      {"Intermediate Algebra", "intermediate_algebra"},
      {"Number Theory", "num_theory"},
      {"Prealgebra", "prealgebra"},
      {"Precalculus", "precalc"}};
  auto it = names.find(type);
  std::string tail;
  if (it != names.end()) {
    tail = it->second;
  } else {
    for (char c : type) tail += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  }
  return "minerva_math_" + tail;
}

PreparedTask prepare_math(const std::string& data_path, bool with_prompts) {
  PreparedTask t;
  t.config = minerva_math_task_config();
  t.data_path = data_path.empty() ? default_data_path(t.config.benchmark) : data_path;
  t.subtask_name = [](const std::string& type) { return math_subtask_name(type); };
  const auto docs = load_math(t.data_path, t.config.test_split);
  std::string fewshot;
  if (with_prompts) {
    for (int i = 0; i < t.config.num_fewshot; ++i) {
      const auto& shot = t.config.fewshot_samples.at(i);
      fewshot += render_template(t.config.doc_to_text, shot) + t.config.target_delimiter +
                 render_template(t.config.doc_to_target, shot) + t.config.fewshot_delimiter;
    }
  }
  std::map<std::string, int64_t> per_subtask;
  for (size_t i = 0; i < docs.size(); ++i) {
    TaskDoc d;
    d.doc_id = static_cast<int64_t>(i);
    d.subtask = docs[i].type;
    d.subtask_doc_id = per_subtask[d.subtask]++;
    d.target = math_gold_answer(docs[i].solution);
    d.doc = {{"problem", docs[i].problem}, {"level", docs[i].level}, {"type", docs[i].type},
             {"solution", docs[i].solution}, {"answer", d.target}};
    d.match_key = docs[i].problem;
    if (with_prompts) d.prompt = fewshot + render_template(t.config.doc_to_text, {{"problem", docs[i].problem}});
    t.docs.push_back(std::move(d));
  }
  return t;
}

TaskScore score_math(const ScoreRequest& req) { return score_prepared_task(prepare_math(req.data_path, false), req); }

TaskScore run_math(LanguageModel& lm, const RunOptions& options) {
  return run_prepared_task(prepare_math(options.data_path, true), lm, options);
}

}  // namespace packbench::evals
