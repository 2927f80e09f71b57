// ifeval scoring: strict and loose verdicts per instruction, and the prompt- and instruction-level accuracies.
#include "evals/ifeval/ifeval_scoring.h"

#include <cmath>

#include "evals/ifeval/ifeval_text.h"

namespace packbench::evals::ifeval {

using nlohmann::json;

std::vector<Checker> build_checkers(const Prompt& prompt) {
  std::vector<Checker> out;
  out.reserve(prompt.instruction_ids.size());
  for (size_t i = 0; i < prompt.instruction_ids.size(); ++i)
    out.push_back(make_checker(prompt.instruction_ids[i], prompt.kwargs[i], prompt.where));
  return out;
}

std::vector<std::string> loose_variants(std::string_view response) {
  std::vector<std::string> lines = py_split(response, "\n");
  auto join = [&](size_t b, size_t e) {
    std::string s;
    for (size_t i = b; i < e; ++i) {
      if (i > b) s += '\n';
      s += lines[i];
    }
    return py_strip(s);
  };
  size_t n = lines.size();
  std::string first = join(1, n);
  std::string last = join(0, n - 1);
  std::string both = n >= 2 ? join(1, n - 1) : std::string();
  auto nostar = [](const std::string& s) { return replace_all(s, "*", ""); };
  std::string r(response);
  return {r, nostar(r), first, last, both, nostar(first), nostar(last), nostar(both)};
}

Verdicts judge(const std::vector<Checker>& checkers, std::string_view response) {
  Verdicts v;
  std::vector<std::string> variants = loose_variants(response);
  std::vector<bool> nonblank;
  for (const std::string& s : variants) nonblank.push_back(!py_strip(s).empty());
  for (const Checker& c : checkers) {
    bool strict = nonblank[0] && c.check(response);
    bool loose = strict;
    for (size_t i = 1; i < variants.size() && !loose; ++i) loose = nonblank[i] && c.check(variants[i]);
    v.strict.push_back(strict);
    v.loose.push_back(loose);
  }
  return v;
}

void Tally::add(const std::vector<std::string>& ids, const Verdicts& v) {
  ++prompts;
  bool all_strict = true, all_loose = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    all_strict = all_strict && v.strict[i];
    all_loose = all_loose && v.loose[i];
    for (Count* c : {&instructions, &per_instruction[ids[i]], &per_group[ids[i].substr(0, ids[i].find(':'))]}) {
      ++c->total;
      c->strict += v.strict[i];
      c->loose += v.loose[i];
    }
  }
  prompts_strict += all_strict;
  prompts_loose += all_loose;
}

namespace {

// Mean of n Bernoulli outcomes with k ones, and its standard error (n-1 sample deviation).
std::pair<double, double> mean_stderr(int64_t k, int64_t n) {
  if (n == 0) return {0.0, 0.0};
  double p = static_cast<double>(k) / static_cast<double>(n);
  if (n < 2) return {p, 0.0};
  double var = (static_cast<double>(k) * (1 - p) * (1 - p) + static_cast<double>(n - k) * p * p) /
               static_cast<double>(n - 1);
  return {p, std::sqrt(var / static_cast<double>(n))};
}

}  // namespace

json Tally::metrics() const {
  json m = json::object();
  auto put = [&](const std::string& name, int64_t k, int64_t n) {
    auto [p, se] = mean_stderr(k, n);
    m[name + ",none"] = p;
    m[name + "_stderr,none"] = se;
  };
  put("prompt_level_strict_acc", prompts_strict, prompts);
  put("inst_level_strict_acc", instructions.strict, instructions.total);
  put("prompt_level_loose_acc", prompts_loose, prompts);
  put("inst_level_loose_acc", instructions.loose, instructions.total);
  return m;
}

json Tally::breakdown() const {
  auto table = [](const std::map<std::string, Count>& counts) {
    json t = json::object();
    for (const auto& [id, c] : counts)
      t[id] = {{"n", c.total},
               {"strict_acc", c.total ? static_cast<double>(c.strict) / c.total : 0.0},
               {"loose_acc", c.total ? static_cast<double>(c.loose) / c.total : 0.0}};
    return t;
  };
  return {{"instructions", table(per_instruction)}, {"groups", table(per_group)}};
}

}  // namespace packbench::evals::ifeval
