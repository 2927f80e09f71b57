// Tasks declared as data, after lm-evaluation-harness's task YAML: sources, prompts, few-shot, filters, metrics, version.
#include "evals/task_config.h"

#include <fmt/core.h>

#include "core/error.h"

namespace packbench::evals {
namespace {

FilterStep step(std::string function, std::string pattern = "", int group_select = 0,
                std::string fallback = "[invalid]") {
  FilterStep f;
  f.function = std::move(function);
  f.regex_pattern = std::move(pattern);
  f.group_select = group_select;
  f.fallback = std::move(fallback);
  return f;
}

MetricSpec metric(std::string name, std::string compare) {
  MetricSpec m;
  m.metric = std::move(name);
  m.compare = std::move(compare);
  return m;
}

}  // namespace

nlohmann::json TaskConfig::to_json() const {
  nlohmann::json filters = nlohmann::json::array();
  for (const auto& f : filter_list) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : f.steps) {
      nlohmann::json j = {{"function", s.function}};
      if (!s.regex_pattern.empty()) j["regex_pattern"] = s.regex_pattern;
      if (s.function == "regex") j["group_select"] = s.group_select;
      if (s.function != "take_first") j["fallback"] = s.fallback;
      steps.push_back(j);
    }
    filters.push_back({{"name", f.name}, {"filter", steps}});
  }
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : metric_list) {
    nlohmann::json j = {{"metric", m.metric}, {"aggregation", m.aggregation},
                        {"higher_is_better", m.higher_is_better}, {"compare", m.compare}};
    if (m.compare == "exact") {
      j["ignore_case"] = m.ignore_case;
      j["ignore_punctuation"] = m.ignore_punctuation;
      j["regexes_to_ignore"] = m.regexes_to_ignore;
    }
    metrics.push_back(j);
  }
  nlohmann::json j = {{"task", task},
                      {"benchmark", benchmark},
                      {"test_split", test_split},
                      {"output_type", output_type},
                      {"description", description},
                      {"doc_to_text", doc_to_text},
                      {"doc_to_target", doc_to_target},
                      {"num_fewshot", num_fewshot},
                      {"target_delimiter", target_delimiter},
                      {"fewshot_delimiter", fewshot_delimiter},
                      {"metric_list", metrics},
                      {"metadata", {{"version", version}}}};
  if (!fewshot_split.empty()) j["fewshot_split"] = fewshot_split;
  j["fewshot_config"] = {{"sampler", fewshot_sampler}};
  if (!fewshot_samples.empty()) j["fewshot_config"]["samples"] = fewshot_samples;
  if (!doc_to_choice.empty()) j["doc_to_choice"] = doc_to_choice;
  if (output_type == "generate_until")
    j["generation_kwargs"] = {{"until", until}, {"max_gen_toks", max_gen_toks}, {"do_sample", false}, {"temperature", 0.0}};
  if (!filters.empty()) j["filter_list"] = filters;
  if (!group_aggregation.empty()) j["group_aggregation"] = group_aggregation;
  if (!differences.empty()) j["differences_from_lm_eval"] = differences;
  return j;
}

std::string render_template(const std::string& tmpl, const std::map<std::string, std::string>& fields) {
  std::string out;
  out.reserve(tmpl.size() + 256);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t end = tmpl.find('}', i);
      if (end == std::string::npos) throw Error(fmt::format("template '{}': unclosed '{{'", tmpl));
      const std::string name = tmpl.substr(i + 1, end - i - 1);
      auto it = fields.find(name);
      if (it == fields.end()) throw Error(fmt::format("template '{}': no field '{}'", tmpl, name));
      out += it->second;
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

const TaskConfig& mmlu_task_config() {
  static const TaskConfig c = [] {
    TaskConfig t;
    t.task = "mmlu";
    t.benchmark = "mmlu";
    t.fewshot_split = "dev";
    t.output_type = "multiple_choice";
    t.description = "The following are multiple choice questions (with answers) about {subject}.\n\n";
    t.doc_to_text = "{question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nAnswer:";
    t.doc_to_target = "{answer}";
    t.doc_to_choice = {"A", "B", "C", "D"};
    t.num_fewshot = 5;
    t.metric_list = {metric("acc", "argmax")};
    t.group_aggregation = "micro";
    t.version = 1;
    t.differences = {
        "data: hendrycks CSV release (14,079 test rows) instead of the Hugging Face cais/mmlu copy "
        "(14,042); prompts and scoring are the same",
        "also reports acc_macro (unweighted mean over subjects) next to lm-eval's size-weighted acc",
        "--limit applies per subject, as lm-eval applies it per subtask"};
    return t;
  }();
  return c;
}

const TaskConfig& gsm8k_task_config() {
  static const TaskConfig c = [] {
    TaskConfig t;
    t.task = "gsm8k";
    t.benchmark = "gsm8k";
    t.fewshot_split = "train";
    t.output_type = "generate_until";
    t.doc_to_text = "Question: {question}\nAnswer:";
    t.doc_to_target = "{answer}";
    t.num_fewshot = 4;
    t.until = {"Question:", "</s>", "<|im_end|>"};
    t.max_gen_toks = 256;
    t.filter_list = {
        FilterPipeline{"strict-match", {step("regex", "#### (\\-?[0-9\\.\\,]+)", 0), step("take_first")}},
        FilterPipeline{"flexible-extract",
                       {step("regex", "(-?[$0-9.,]{2,})|(-?[0-9]+)", -1), step("take_first")}}};
    MetricSpec m = metric("exact_match", "exact");
    m.ignore_case = true;
    m.ignore_punctuation = false;
    m.regexes_to_ignore = {",", "\\$", "(?s).*#### ", "\\.$"};
    t.metric_list = {m};
    t.version = 3;
    t.differences = {
        "num_fewshot 4 (the paper's setting) instead of lm-eval's default 5",
        "few-shot exemplars are the first 4 train problems (sampler first_n) instead of lm-eval's "
        "seeded random draw from train, so prompts are reproducible without Python's RNG"};
    return t;
  }();
  return c;
}

const TaskConfig& minerva_math_task_config() {
  static const TaskConfig c = [] {
    TaskConfig t;
    t.task = "minerva_math";
    t.benchmark = "math";
    t.output_type = "generate_until";
    t.doc_to_text = "Problem:\n{problem}\n\nSolution:";
    t.doc_to_target = "\n{solution}";
    t.target_delimiter = "";
    t.num_fewshot = 4;
    // The four exemplars of the Minerva paper (Lewkowycz et al., 2022, appendix D), as
    // lm-evaluation-harness's minerva_math uses them.
    t.fewshot_samples = {
        {{"problem", "Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}"},
         {"solution",
          "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so $x\\ge2$, "
          "and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which "
          "gives $x<5$. Therefore, the domain of the expression is $\\boxed{[2,5)}$.\n"
          "Final Answer: The final answer is $[2,5)$. I hope it is correct."}},
        {{"problem", "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find $\\det (\\mathbf{A} \\mathbf{B}).$"},
         {"solution",
          "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) = (2)(12) = "
          "\\boxed{24}.$\nFinal Answer: The final answer is $24$. I hope it is correct."}},
        {{"problem",
          "Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights instead, how many "
          "times must Terrell lift them in order to lift the same total weight?"},
         {"solution",
          "If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\\cdot 12\\cdot20=480$ pounds of "
          "weight.  If he lifts two 15-pound weights instead for $n$ times, he will lift a total of "
          "$2\\cdot15\\cdot n=30n$ pounds of weight.  Equating this to 480 pounds, we can solve for $n$:\n"
          "\\begin{align*}\n30n&=480\\\\\n\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n\\end{align*}\n"
          "Final Answer: The final answer is $16$. I hope it is correct."}},
        {{"problem",
          "If the system of equations\n\n\\begin{align*}\n6x-4y&=a,\\\\\n6y-9x &=b.\n\\end{align*}has a solution "
          "$(x, y)$ where $x$ and $y$ are both nonzero,\nfind $\\frac{a}{b},$ assuming $b$ is nonzero."},
         {"solution",
          "If we multiply the first equation by $-\\frac{3}{2}$, we obtain\n\n$$6y-9x=-\\frac{3}{2}a.$$Since we "
          "also know that $6y-9x=b$, we have\n\n$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\n"
          "Final Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct."}}};
    t.until = {"Problem:"};
    t.max_gen_toks = 1024;
    t.filter_list = {FilterPipeline{"none", {step("math_answer", "", 0, "[invalidanswer]")}}};
    t.metric_list = {metric("exact_match", "math_equiv")};
    t.group_aggregation = "micro";
    t.version = 1;
    t.differences = {
        "the 4 Minerva exemplars as one fixed prompt ('Solution:' then a newline), as lm-eval's minerva_math "
        "1.0 prompt did; lm-eval's default num_fewshot for it is 5 (4 exemplars exist)",
        "answer extraction falls back to the last \\boxed{...} when the response has no 'Final Answer: ...' "
        "line (lm-eval scores that as [invalidanswer])",
        "equivalence is packbench's own (normalised strings, then numeric evaluation of LaTeX at random "
        "points) instead of sympy's parse_latex + simplify; see evals/README.md",
        "max_gen_toks 1024 instead of the default 256, so long solutions are not cut before their answer",
        "one task over the 5,000 problems (the MATH test set), reporting per-subject scores as subtasks"};
    return t;
  }();
  return c;
}

const TaskConfig& bbh_task_config() {
  static const TaskConfig c = [] {
    TaskConfig t;
    t.task = "bbh";
    t.benchmark = "bbh";
    t.output_type = "generate_until";
    t.description = "{cot_prompt}\n\n";
    t.doc_to_text = "Q: {input}\nA: Let's think step by step.";
    t.doc_to_target = "{target}";
    t.num_fewshot = 3;
    t.fewshot_sampler = "cot-prompts/<task>.txt";
    t.until = {"</s>", "Q:", "\n\n"};
    t.max_gen_toks = 1024;
    t.filter_list = {FilterPipeline{"get-answer",
                                    {step("regex", "(?<=the answer is )(.*)(?=.)", 0), step("take_first")}}};
    t.metric_list = {metric("exact_match", "exact")};
    t.group_aggregation = "micro";
    t.version = 2;
    t.differences = {
        "the 3 exemplars are the published cot-prompts/<task>.txt text verbatim (task description, then "
        "'Q: ...\\nA: Let's think step by step.\\n<reasoning>' blocks), as in the BIG-Bench-Hard repository",
        "stop sequence 'Q:' instead of lm-eval's bare 'Q', which cut off any reasoning containing a capital Q "
        "(e.g. 'Queen')"};
    return t;
  }();
  return c;
}

}  // namespace packbench::evals
