// WildBench's single-answer judge: the score template v2 filled as the official code fills it, and its verdict parsed.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "evals/wildbench/wildbench_data.h"

namespace packbench::evals::wildbench {

// The official judge settings (allenai/WildBench src/eval.py: --temperature 0, --max_tokens 1024,
// JSON mode; evaluation/run_eval_v2_*.score.sh: --max_words_to_eval -1, i.e. no shortening).
struct JudgeOptions {
  double temperature = 0.0;
  int max_tokens = 1024;
  bool json_mode = true;  // response_format {"type": "json_object"}
  int max_words = -1;     // > 0: shorten history, query and answer to this many words
};

// evals/wildbench/eval_template.score.v2.md in the source tree (allenai/WildBench
// evaluation/eval_template.score.v2.md, shipped verbatim).
std::string default_template_path();
// The template's text; "" = default_template_path(). Throws packbench::Error when unreadable or
// when one of the four placeholders is missing.
std::string load_score_template(const std::string& path = "");

// "USER: <content>\n\n" / "ASSISTANT: <content>\n\n" for every turn before the last (other roles
// are skipped), as compose_eval_item builds it.
std::string format_history(const Task& task);
// "- <item>\n" per checklist item.
std::string checklist_markdown(const std::vector<std::string>& checklist);
// The official shorten(): more than k words (split on single spaces) keeps the first k joined by
// spaces plus "... (truncated)"; k <= 0 keeps the text.
std::string shorten(const std::string& text, int k);
// Python's str.replace(old, new): every non-overlapping occurrence, left to right.
std::string replace_all(std::string text, const std::string& from, const std::string& to);
// Python's str.strip() == "" (ASCII and Unicode whitespace).
bool is_blank(const std::string& text);
// Python's str.strip().
std::string strip(const std::string& text);
// The official clear_output() of a generated answer: "<|endoftext|>" becomes a space, then strip().
std::string clear_output(const std::string& text);

// The judge prompt: {$history}, {$user_query}, {$model_output}, {$checklist} replaced in that
// order, each with replace_all, as the official score mode does.
std::string fill_score_prompt(const std::string& tmpl, const Task& task, const std::string& model_output,
                              int max_words = -1);

// What the official code records instead of asking the judge when the answer is blank.
std::string empty_output_verdict();

// The chat completion request the judge is sent: one user message holding the prompt (the body of
// the official batch requests), temperature, max_tokens and JSON mode.
nlohmann::json judge_request_body(const std::string& model, const std::string& prompt, const JudgeOptions& o);

// A judge's verdict parsed as the official parse_result() does: the stripped text as JSON; if that
// fails, the "score" (and "choice") values extracted with its regular expression
// ("key"\s*:\s*"(...)"), quoted values only. `score` is float(score) when that works; when it does
// not (no score, not a number) the verdict is unparsable and nothing is guessed.
struct Verdict {
  nlohmann::json parsed_result = nlohmann::json::object();
  std::string method;               // "json" | "extracted" | "none"
  std::optional<std::string> score_text;  // the score as the judge wrote it
  std::optional<double> score;      // set when the verdict is usable
  std::string problem;              // why it is not, when it is not
};
Verdict parse_verdict(const std::string& raw);

// Python's float() on a JSON value: numbers, and strings holding a decimal number (surrounding
// whitespace allowed). nullopt otherwise.
std::optional<double> python_float(const nlohmann::json& v);

}  // namespace packbench::evals::wildbench
