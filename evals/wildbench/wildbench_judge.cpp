// WildBench's single-answer judge: the score template v2 filled as the official code fills it, and its verdict parsed.
#include "evals/wildbench/wildbench_judge.h"

#include <cerrno>
#include <cstdlib>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/regex.h"

namespace packbench::evals::wildbench {
using nlohmann::json;

namespace {

// The next UTF-8 code point at s[i] (advancing i); an invalid byte is returned as itself.
uint32_t next_code_point(const std::string& s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + len > s.size()) len = 1;
  uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  i += len;
  return cp;
}

// Python's str.isspace() for one code point.
bool py_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// Python's str.strip() (whitespace by str.isspace()).
std::string py_strip(const std::string& s) {
  size_t i = 0, begin = s.size(), end = 0;
  while (i < s.size()) {
    const size_t at = i;
    if (!py_space(next_code_point(s, i))) {
      if (begin == s.size()) begin = at;
      end = i;
    }
  }
  return begin >= end ? "" : s.substr(begin, end - begin);
}

}  // namespace

std::string default_template_path() {
#ifdef PACKBENCH_SOURCE_DIR
  return std::string(PACKBENCH_SOURCE_DIR) + "/evals/wildbench/eval_template.score.v2.md";
#else
  return "evals/wildbench/eval_template.score.v2.md";
#endif
}

std::string load_score_template(const std::string& path) {
  const std::string p = path.empty() ? default_template_path() : path;
  std::string t = read_file(p);
  for (const char* ph : {"{$history}", "{$user_query}", "{$model_output}", "{$checklist}"})
    if (t.find(ph) == std::string::npos)
      throw Error(p + ": not a WildBench score template (no " + std::string(ph) + " placeholder)");
  return t;
}

std::string format_history(const Task& task) {
  std::string h;
  for (size_t i = 0; i + 1 < task.conversation_input.size(); ++i) {
    const Turn& t = task.conversation_input[i];
    if (t.role == "user") h += "USER: " + t.content + "\n\n";
    else if (t.role == "assistant") h += "ASSISTANT: " + t.content + "\n\n";
  }
  return h;
}

std::string checklist_markdown(const std::vector<std::string>& checklist) {
  std::string md;
  for (const auto& item : checklist) md += "- " + item + "\n";
  return md;
}

std::string shorten(const std::string& text, int k) {
  if (k <= 0) return text;
  // text.split(" "): pieces between single spaces (empty pieces count).
  size_t words = 1, cut = std::string::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ' ') continue;
    if (words == static_cast<size_t>(k)) cut = i;
    ++words;
  }
  if (words <= static_cast<size_t>(k)) return text;
  return text.substr(0, cut) + "... (truncated)";
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out += to;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

bool is_blank(const std::string& text) { return py_strip(text).empty(); }

std::string strip(const std::string& text) { return py_strip(text); }

std::string clear_output(const std::string& text) { return py_strip(replace_all(text, "<|endoftext|>", " ")); }

std::string fill_score_prompt(const std::string& tmpl, const Task& task, const std::string& model_output,
                              int max_words) {
  std::string p = tmpl;
  p = replace_all(p, "{$history}", shorten(format_history(task), max_words));
  p = replace_all(p, "{$user_query}", shorten(task.conversation_input.back().content, max_words));
  p = replace_all(p, "{$model_output}", shorten(model_output, max_words));
  p = replace_all(p, "{$checklist}", checklist_markdown(task.checklist));
  return p;
}

std::string empty_output_verdict() {
  // json.dumps({"strengths": "N/A", "weaknesses": "The model output is empty.", "score": "1"})
  return R"({"strengths": "N/A", "weaknesses": "The model output is empty.", "score": "1"})";
}

json judge_request_body(const std::string& model, const std::string& prompt, const JudgeOptions& o) {
  json body = {{"model", model},
               {"messages", json::array({{{"role", "user"}, {"content", prompt}}})},
               {"temperature", o.temperature},
               {"max_tokens", o.max_tokens}};
  if (o.json_mode) body["response_format"] = {{"type", "json_object"}};
  return body;
}

std::optional<double> python_float(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  const std::string s = py_strip(v.get<std::string>());
  if (s.empty()) return std::nullopt;
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-' || c == 'e' || c == 'E'))
      return std::nullopt;  // no hex, no inf/nan words: a judge's score is a decimal number
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

Verdict parse_verdict(const std::string& raw) {
  Verdict v;
  const std::string text = py_strip(raw);
  bool parsed = false;
  try {
    v.parsed_result = json::parse(text);
    parsed = true;
    v.method = "json";
  } catch (const json::parse_error&) {
  }
  if (!parsed) {
    // extract_values_from_json(result_str, keys=["score", "choice"]): quoted values only.
    v.parsed_result = json::object();
    v.method = "extracted";
    for (const char* key : {"score", "choice"}) {
      const std::string k = key;
      if (text.find(k) == std::string::npos) continue;
      auto m = Regex("\"" + k + "\"\\s*:\\s*\"([^\"]*?)\"").search(text);
      if (!m) m = Regex("(?s)\"" + k + "\"\\s*:\\s*\"(.*?)\"").search(text);
      if (m) v.parsed_result[k] = (*m)[1];
    }
    if (v.parsed_result.empty()) v.method = "none";
  }
  if (!v.parsed_result.is_object() || !v.parsed_result.contains("score")) {
    v.problem = v.method == "none" ? "the verdict is not JSON and holds no quoted \"score\""
                                   : "the verdict has no \"score\" field";
    return v;
  }
  const json& s = v.parsed_result["score"];
  v.score_text = s.is_string() ? s.get<std::string>() : s.dump();
  v.score = python_float(s);
  if (!v.score) v.problem = "the verdict's score '" + *v.score_text + "' is not a number";
  return v;
}

}  // namespace packbench::evals::wildbench
