// BBH as a task: 3-shot chain-of-thought prompts from cot-prompts/, the answer after "the answer is".
#include "evals/bbh/task_bbh.h"

#include "evals/loaders.h"

namespace packbench::evals {

PreparedTask prepare_bbh(const std::string& data_path, bool with_prompts) {
  PreparedTask t;
  t.config = bbh_task_config();
  const TaskConfig& c = t.config;
  t.data_path = data_path.empty() ? default_data_path(c.benchmark) : data_path;
  t.subtask_name = [](const std::string& name) { return "bbh_cot_fewshot_" + name; };
  int64_t id = 0;
  for (const auto& task : load_bbh(t.data_path)) {
    const std::string header = with_prompts ? render_template(c.description, {{"cot_prompt", task.cot_prompt}}) : "";
    for (size_t i = 0; i < task.examples.size(); ++i) {
      const auto& e = task.examples[i];
      TaskDoc d;
      d.doc_id = id++;
      d.subtask = task.name;
      d.subtask_doc_id = static_cast<int64_t>(i);
      d.doc = {{"input", e.input}, {"target", e.target}};
      d.match_key = e.input;
      d.target = e.target;
      if (with_prompts) d.prompt = header + render_template(c.doc_to_text, {{"input", e.input}});
      t.docs.push_back(std::move(d));
    }
  }
  return t;
}

TaskScore score_bbh(const ScoreRequest& req) { return score_prepared_task(prepare_bbh(req.data_path, false), req); }

TaskScore run_bbh(LanguageModel& lm, const RunOptions& options) {
  return run_prepared_task(prepare_bbh(options.data_path, true), lm, options);
}

}  // namespace packbench::evals
