// Tasks declared as data, after lm-evaluation-harness's task YAML: sources, prompts, few-shot, filters, metrics, version.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace packbench::evals {

// One step of a filter pipeline (lm-eval's filter_list[].filter[]). Functions:
//   "regex"        findall(regex_pattern), pick match group_select (negative counts from the
//                  end), first non-empty group of a tuple, strip; no match -> fallback
//   "take_first"   keep the first response (packbench scores one response per doc)
//   "math_answer"  the Minerva final answer ("Final Answer: The final answer is X. I hope it
//                  is correct."), else the last \boxed{...}; none -> fallback
struct FilterStep {
  std::string function;
  std::string regex_pattern;
  int group_select = 0;
  std::string fallback = "[invalid]";
};
struct FilterPipeline {
  std::string name;  // the "filter" half of "metric,filter" keys
  std::vector<FilterStep> steps;
};

// One metric (lm-eval's metric_list[]). `compare` picks how a filtered response meets the
// target: "exact" (lm-eval exact_match with its ignore_* options and regexes_to_ignore, applied
// to both sides), "math_equiv" (evals/math/math_answer.h is_equiv) or "argmax" (multiple choice:
// the choice with the highest log-likelihood is the gold one).
struct MetricSpec {
  std::string metric;              // "exact_match", "acc"
  std::string aggregation = "mean";
  bool higher_is_better = true;
  std::string compare = "exact";
  bool ignore_case = false;
  bool ignore_punctuation = false;
  std::vector<std::string> regexes_to_ignore;
};

struct TaskConfig {
  std::string task;                 // "gsm8k", "mmlu", "minerva_math", "bbh"
  std::string benchmark;            // folder under the shared benchmarks: "gsm8k", "mmlu", ...
  std::string test_split = "test";
  std::string fewshot_split;        // "" = fixed exemplars held in the config
  std::string output_type;          // "multiple_choice" | "generate_until"
  std::string description;          // prompt header, a template
  std::string doc_to_text;          // template: "{field}" is replaced by the doc's field
  std::string doc_to_target;        // template for few-shot targets
  std::vector<std::string> doc_to_choice;  // multiple choice: the choice labels
  int num_fewshot = 0;
  std::string fewshot_sampler = "first_n";
  std::vector<std::map<std::string, std::string>> fewshot_samples;  // fixed exemplars, if any
  std::string target_delimiter = " ";
  std::string fewshot_delimiter = "\n\n";
  std::vector<std::string> until;   // generation stop sequences
  int max_gen_toks = 256;
  std::vector<FilterPipeline> filter_list;  // empty = one pipeline named "none"
  std::vector<MetricSpec> metric_list;
  std::string group_aggregation;    // how subtasks combine: "micro" (weight by size) or ""
  int version = 1;
  std::vector<std::string> differences;  // where packbench differs from lm-eval, and why

  nlohmann::json to_json() const;
};

// The declared tasks. `minerva_math` is also reachable as "math".
const TaskConfig& mmlu_task_config();
const TaskConfig& gsm8k_task_config();
const TaskConfig& minerva_math_task_config();
const TaskConfig& bbh_task_config();

// Fills "{name}" placeholders from `fields`; "{{" and "}}" are literal braces. A placeholder
// naming no field throws Error.
std::string render_template(const std::string& tmpl, const std::map<std::string, std::string>& fields);

}  // namespace packbench::evals
