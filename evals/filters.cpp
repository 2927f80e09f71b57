// Filter pipelines (response -> extracted answer) and lm-eval's exact_match with its normalisations.
#include "evals/filters.h"

#include <fmt/core.h>

#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "evals/math/math_answer.h"
#include "evals/regex.h"

namespace packbench::evals {
namespace {

// Compiled patterns are cached: the same few patterns run over thousands of responses.
const Regex& cached_regex(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Regex>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[pattern];
  if (!slot) slot = std::make_unique<Regex>(pattern);
  return *slot;
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string regex_step(const FilterStep& step, const std::string& text) {
  const Regex& re = cached_regex(step.regex_pattern);
  auto matches = re.findall(text);
  if (matches.empty()) return step.fallback;
  int n = static_cast<int>(matches.size());
  int idx = step.group_select < 0 ? n + step.group_select : step.group_select;
  if (idx < 0 || idx >= n) return step.fallback;  // Python would raise IndexError; count as no answer
  const auto& groups = matches[idx];
  for (const auto& g : groups) {
    if (!g.empty()) return strip(g);
  }
  // a tuple of empty groups falls back; a single empty match strips to ""
  return groups.size() > 1 ? step.fallback : std::string();
}

}  // namespace

std::string apply_filter(const FilterPipeline& pipeline, const std::string& response) {
  std::string text = response;
  for (const auto& step : pipeline.steps) {
    if (step.function == "regex") {
      text = regex_step(step, text);
    } else if (step.function == "take_first") {
      // one response per doc: nothing to do
    } else if (step.function == "math_answer") {
      text = extract_math_answer(text, step.fallback);
    } else {
      throw Error(fmt::format("filter '{}': unknown function '{}'", pipeline.name, step.function));
    }
  }
  return text;
}

std::string exact_match_normalize(const std::string& text, const MetricSpec& spec) {
  std::string s = text;
  for (const auto& pat : spec.regexes_to_ignore) s = cached_regex(pat).sub(s, "");
  if (spec.ignore_case) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (spec.ignore_punctuation) {
    std::string t;
    for (char c : s) {
      if (!std::ispunct(static_cast<unsigned char>(c))) t += c;
    }
    s = t;
  }
  return s;
}

bool exact_match(const std::string& prediction, const std::string& reference, const MetricSpec& spec) {
  return exact_match_normalize(prediction, spec) == exact_match_normalize(reference, spec);
}

}  // namespace packbench::evals
