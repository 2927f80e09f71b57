// GSM8K as a task: 4-shot "Question: ...\nAnswer:" prompts, strict-match and flexible-extract scoring.
#include "evals/gsm8k/task_gsm8k.h"

#include <fmt/core.h>

#include <filesystem>

#include "core/error.h"
#include "evals/loaders.h"

namespace packbench::evals {
namespace fs = std::filesystem;

PreparedTask prepare_gsm8k(const std::string& data_path, bool with_prompts) {
  PreparedTask t;
  t.config = gsm8k_task_config();
  t.data_path = data_path.empty() ? default_data_path(t.config.benchmark) : data_path;
  const auto docs = load_gsm8k(t.data_path, t.config.test_split);
  std::string fewshot;
  if (with_prompts) {
    // The train split sits next to the test file (or in the folder given).
    fs::path dir = fs::is_directory(t.data_path) ? fs::path(t.data_path) : fs::path(t.data_path).parent_path();
    const auto shots = load_gsm8k(dir.string(), t.config.fewshot_split);
    if (static_cast<int>(shots.size()) < t.config.num_fewshot)
      throw Error(fmt::format("{}: {} train problems, {} needed for the few-shot prompt", dir.string(),
                              shots.size(), t.config.num_fewshot));
    for (int i = 0; i < t.config.num_fewshot; ++i) {
      fewshot += render_template(t.config.doc_to_text, {{"question", shots[i].question}}) +
                 t.config.target_delimiter +
                 render_template(t.config.doc_to_target, {{"answer", shots[i].answer}}) + t.config.fewshot_delimiter;
    }
  }
  for (size_t i = 0; i < docs.size(); ++i) {
    TaskDoc d;
    d.doc_id = static_cast<int64_t>(i);
    d.subtask_doc_id = d.doc_id;
    d.doc = {{"question", docs[i].question}, {"answer", docs[i].answer}};
    d.match_key = docs[i].question;
    d.target = docs[i].answer;  // exact_match's "(?s).*#### " reduces it to the number
    if (with_prompts) d.prompt = fewshot + render_template(t.config.doc_to_text, {{"question", docs[i].question}});
    t.docs.push_back(std::move(d));
  }
  return t;
}

TaskScore score_gsm8k(const ScoreRequest& req) {
  return score_prepared_task(prepare_gsm8k(req.data_path, false), req);
}

TaskScore run_gsm8k(LanguageModel& lm, const RunOptions& options) {
  return run_prepared_task(prepare_gsm8k(options.data_path, true), lm, options);
}

}  // namespace packbench::evals
