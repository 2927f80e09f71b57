// MMLU as a task: 5-shot per-subject prompts, accuracy by the highest log-likelihood of " A" .. " D".
#include "evals/mmlu/task_mmlu.h"

#include <fmt/core.h>

#include <filesystem>
#include <map>

#include "core/error.h"
#include "evals/loaders.h"

namespace packbench::evals {
namespace fs = std::filesystem;

namespace {

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::map<std::string, std::string> fields(const TaskConfig& c, const MmluDoc& d) {
  return {{"question", strip(d.question)}, {"A", d.choices[0]}, {"B", d.choices[1]}, {"C", d.choices[2]},
          {"D", d.choices[3]}, {"answer", c.doc_to_choice[d.answer]}, {"subject", mmlu_subject_title(d.subject)}};
}

}  // namespace

std::string mmlu_category(const std::string& subject) {
  // The grouping lm-evaluation-harness reports as mmlu_stem, mmlu_humanities, ...
  static const std::map<std::string, std::string> categories = {
      {"abstract_algebra", "stem"}, {"anatomy", "stem"}, {"astronomy", "stem"}, {"business_ethics", "other"},
      {"clinical_knowledge", "other"}, {"college_biology", "stem"}, {"college_chemistry", "stem"},
      {"college_computer_science", "stem"}, {"college_mathematics", "stem"}, {"college_medicine", "other"},
      {"college_physics", "stem"}, {"computer_security", "stem"}, {"conceptual_physics", "stem"},
      {"econometrics", "social_sciences"}, {"electrical_engineering", "stem"}, {"elementary_mathematics", "stem"},
      {"formal_logic", "humanities"}, {"global_facts", "other"}, {"high_school_biology", "stem"},
      {"high_school_chemistry", "stem"}, {"high_school_computer_science", "stem"},
      {"high_school_european_history", "humanities"}, {"high_school_geography", "social_sciences"},
      {"high_school_government_and_politics", "social_sciences"}, {"high_school_macroeconomics", "social_sciences"},
      {"high_school_mathematics", "stem"}, {"high_school_microeconomics", "social_sciences"},
      {"high_school_physics", "stem"}, {"high_school_psychology", "social_sciences"}, {"high_school_statistics", "stem"},
      {"high_school_us_history", "humanities"}, {"high_school_world_history", "humanities"}, {"human_aging", "other"},
      {"human_sexuality", "social_sciences"}, {"international_law", "humanities"}, {"jurisprudence", "humanities"},
      {"logical_fallacies", "humanities"}, {"machine_learning", "stem"}, {"management", "other"},
      {"marketing", "other"}, {"medical_genetics", "other"}, {"miscellaneous", "other"},
      {"moral_disputes", "humanities"}, {"moral_scenarios", "humanities"}, {"nutrition", "other"},
      {"philosophy", "humanities"}, {"prehistory", "humanities"}, {"professional_accounting", "other"},
      {"professional_law", "humanities"}, {"professional_medicine", "other"},
      {"professional_psychology", "social_sciences"}, {"public_relations", "social_sciences"},
      {"security_studies", "social_sciences"}, {"sociology", "social_sciences"},
      {"us_foreign_policy", "social_sciences"}, {"virology", "other"}, {"world_religions", "humanities"}};
  auto it = categories.find(subject);
  return it == categories.end() ? "" : it->second;
}

PreparedTask prepare_mmlu(const std::string& data_path, bool with_prompts) {
  PreparedTask t;
  t.config = mmlu_task_config();
  const TaskConfig& c = t.config;
  t.data_path = data_path.empty() ? default_data_path(c.benchmark) : data_path;
  t.subtask_name = [](const std::string& subject) { return "mmlu_" + subject; };
  t.subtask_category = [](const std::string& subject) { return mmlu_category(subject); };
  const auto docs = load_mmlu(t.data_path, c.test_split);

  std::map<std::string, std::string> fewshot;  // subject -> header + shots
  if (with_prompts) {
    std::string dev_path = t.data_path;
    if (!fs::is_directory(dev_path)) dev_path = (fs::path(dev_path).parent_path() / (c.fewshot_split + ".jsonl")).string();
    std::map<std::string, std::vector<MmluDoc>> dev;
    for (auto& d : load_mmlu(dev_path, c.fewshot_split)) dev[d.subject].push_back(std::move(d));
    for (const auto& d : docs) {
      if (fewshot.count(d.subject)) continue;
      const auto& shots = dev[d.subject];
      if (static_cast<int>(shots.size()) < c.num_fewshot)
        throw Error(fmt::format("{}: subject '{}' has {} {} questions, {} needed for the few-shot prompt", dev_path,
                                d.subject, shots.size(), c.fewshot_split, c.num_fewshot));
      std::string p = render_template(c.description, {{"subject", mmlu_subject_title(d.subject)}});
      for (int i = 0; i < c.num_fewshot; ++i) {
        const auto f = fields(c, shots[i]);
        p += render_template(c.doc_to_text, f) + c.target_delimiter + render_template(c.doc_to_target, f) +
             c.fewshot_delimiter;
      }
      fewshot[d.subject] = p;
    }
  }
  std::map<std::string, int64_t> per_subject;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto& m = docs[i];
    TaskDoc d;
    d.doc_id = static_cast<int64_t>(i);
    d.subtask = m.subject;
    d.subtask_doc_id = per_subject[m.subject]++;
    d.doc = {{"question", m.question}, {"subject", m.subject},
             {"choices", {m.choices[0], m.choices[1], m.choices[2], m.choices[3]}}, {"answer", m.answer}};
    d.match_key = m.question;
    for (const auto& label : c.doc_to_choice) d.choices.push_back(c.target_delimiter + label);
    d.gold = m.answer;
    if (with_prompts) d.prompt = fewshot[m.subject] + render_template(c.doc_to_text, fields(c, m));
    t.docs.push_back(std::move(d));
  }
  return t;
}

TaskScore score_mmlu(const ScoreRequest& req) { return score_prepared_task(prepare_mmlu(req.data_path, false), req); }

TaskScore run_mmlu(LanguageModel& lm, const RunOptions& options) {
  return run_prepared_task(prepare_mmlu(options.data_path, true), lm, options);
}

}  // namespace packbench::evals
