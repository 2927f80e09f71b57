// WildBench judge files (WildBench's own per-model format) and their aggregation into the leaderboard's WB-Scores.
#include "evals/wildbench/wildbench_score.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/records.h"
#include "evals/wildbench/wildbench_judge.h"

namespace packbench::evals::wildbench {
using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

int64_t code_points(const std::string& text) {
  int64_t n = 0;
  for (unsigned char c : text) n += (c & 0xc0) != 0x80;
  return n;
}

const std::vector<std::string>& group_names() {
  static const std::vector<std::string> names = {"Creative Tasks", "Planning & Reasoning", "Math & Data Analysis",
                                                 "Information/Advice seeking", "Coding & Debugging"};
  return names;
}

double group_weight(const std::string& group) {
  static const std::map<std::string, double> w = {{"Creative Tasks", 0.5},
                                                  {"Planning & Reasoning", 1.25},
                                                  {"Math & Data Analysis", 1.0},
                                                  {"Information/Advice seeking", 0.75},
                                                  {"Coding & Debugging", 1.25}};
  auto it = w.find(group);
  if (it == w.end()) throw Error("WildBench: '" + group + "' is not a task group");
  return it->second;
}

std::optional<std::string> group_of_tag(const std::string& tag) {
  static const std::map<std::string, std::string> m = {
      {"Information seeking", "Information/Advice seeking"},
      {"Creative Writing", "Creative Tasks"},
      {"Coding & Debugging", "Coding & Debugging"},
      {"Reasoning", "Planning & Reasoning"},
      {"Editing", "Creative Tasks"},
      {"Math", "Math & Data Analysis"},
      {"Planning", "Planning & Reasoning"},
      {"Brainstorming", "Creative Tasks"},
      {"Role playing", "Creative Tasks"},
      {"Advice seeking", "Information/Advice seeking"},
      {"Data Analysis", "Math & Data Analysis"},
      {"Others", "Creative Tasks"},
  };
  auto it = m.find(tag);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> task_groups(const Task& task) {
  std::vector<std::string> tags = {task.primary_tag};
  tags.insert(tags.end(), task.secondary_tags.begin(), task.secondary_tags.end());
  std::vector<std::string> out;
  for (const auto& t : tags) {
    auto g = group_of_tag(t);
    if (!g) throw Error("WildBench session " + task.session_id + ": tag '" + t + "' is not one of WildBench's twelve");
    if (std::find(out.begin(), out.end(), *g) == out.end()) out.push_back(*g);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> groups_by_session(const std::vector<Task>& tasks) {
  std::map<std::string, std::vector<std::string>> m;
  for (const auto& t : tasks) m[t.session_id] = task_groups(t);
  return m;
}

std::vector<JudgeRecord> read_judge_file(const std::string& path) {
  json doc = read_json_file(path);
  if (!doc.is_array()) throw Error(path + ": expected a JSON list of judge records");
  std::vector<JudgeRecord> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& r = doc[i];
    const std::string where = path + " record " + std::to_string(i);
    if (!r.is_object()) throw Error(where + ": expected a JSON object");
    JudgeRecord rec;
    rec.session_id = require_string(r, "session_id", where);
    const std::string w = where + " (session_id " + rec.session_id + ")";
    const json& mo = require_field(r, "model_output", w);
    if (mo.is_string()) rec.model_output = mo.get<std::string>();
    else if (mo.is_array() && !mo.empty() && mo[0].is_string()) rec.model_output = mo[0].get<std::string>();
    else throw Error(w + ": field 'model_output' must be a string (or a list of strings)");
    if (r.contains("model_test") && r["model_test"].is_string()) rec.model_test = r["model_test"];
    else if (r.contains("generator") && r["generator"].is_string()) rec.model_test = r["generator"];
    const bool unparsable = r.contains("judge") && r["judge"].is_object() && r["judge"].value("parsed", true) == false;
    if (!unparsable) {
      const json* s = nullptr;
      if (r.contains("score") && !r["score"].is_null()) s = &r["score"];
      else if (r.contains("parsed_result") && r["parsed_result"].is_object() && r["parsed_result"].contains("score"))
        s = &r["parsed_result"]["score"];
      if (!s) throw Error(w + ": field 'score' is missing (and parsed_result has none)");
      rec.score = python_float(*s);
      if (!rec.score) throw Error(w + ": field 'score': '" + (s->is_string() ? s->get<std::string>() : s->dump()) +
                                  "' is not a number");
    }
    rec.raw = r;
    out.push_back(std::move(rec));
  }
  return out;
}

void write_judge_file(const std::string& path, const std::vector<JudgeRecord>& records) {
  json doc = json::array();
  for (const auto& r : records) doc.push_back(r.raw);
  write_file_atomic(path, doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

Summary aggregate(const std::vector<JudgeRecord>& records, const std::map<std::string, std::vector<std::string>>& tags) {
  Summary s;
  s.records = static_cast<int64_t>(records.size());
  auto exclude = [&s](const char* why, const std::string& sid) {
    ++s.excluded[why];
    s.excluded_sessions[why].push_back(sid);
  };
  double sum = 0, sum_sq = 0, len_sum = 0;
  int64_t len_n = 0;
  std::map<std::string, std::pair<double, int64_t>> group_sums;
  for (const auto& r : records) {
    if (!r.score) {
      exclude(kUnparsable, r.session_id);
      continue;
    }
    ++s.scored;
    sum += *r.score;
    sum_sq += *r.score * *r.score;
    if (ends_with(r.model_output, "... (truncated)")) {
      exclude(kTruncated, r.session_id);
      continue;
    }
    if (r.model_output.empty()) {
      exclude(kEmptyOutput, r.session_id);
      continue;
    }
    len_sum += static_cast<double>(code_points(r.model_output));
    ++len_n;
    if (tags.empty()) continue;
    auto it = tags.find(r.session_id);
    if (it == tags.end()) {
      exclude(kUntagged, r.session_id);
      continue;
    }
    for (const auto& g : it->second) {
      group_sums[g].first += *r.score;
      ++group_sums[g].second;
    }
  }
  if (s.scored > 0) {
    const double n = static_cast<double>(s.scored);
    s.mean_score = sum / n;
    s.wb_score = (s.mean_score - 5) * 2 * 10;
    if (s.scored > 1) {
      const double var = std::max(0.0, (sum_sq - n * s.mean_score * s.mean_score) / (n - 1));
      s.mean_score_stderr = std::sqrt(var / n);
      s.wb_score_stderr = s.mean_score_stderr * 20;
    }
  }
  if (len_n > 0) s.avg_len = len_sum / static_cast<double>(len_n);
  double total_weight = 0;
  for (const auto& g : group_names()) total_weight += group_weight(g);
  double macro = 0;
  for (const auto& [g, acc] : group_sums) {
    GroupScore gs;
    gs.n = acc.second;
    gs.mean = acc.first / static_cast<double>(acc.second);
    gs.wb_score = (gs.mean - 5) * 2 * 10;
    s.groups[g] = gs;
    macro += gs.wb_score * group_weight(g);
  }
  s.wb_score_task_macro = macro / total_weight;
  return s;
}

json Summary::to_json() const {
  json g = json::object();
  for (const auto& [name, gs] : groups) g[name] = {{"wb_score", gs.wb_score}, {"mean_score", gs.mean}, {"n", gs.n}};
  json ex = json::object();
  for (const auto& [why, n] : excluded) ex[why] = {{"count", n}, {"session_ids", excluded_sessions.at(why)}};
  // Nothing scored: no score at all (null), rather than a number that looks like one.
  auto num = [this](double v) { return scored > 0 ? json(v) : json(nullptr); };
  return {{"wb_score", num(wb_score)},
          {"wb_score_stderr", scored > 1 ? json(wb_score_stderr) : json(nullptr)},
          {"wb_score_task_macro", groups.empty() ? json(nullptr) : json(wb_score_task_macro)},
          {"mean_score", num(mean_score)},
          {"mean_score_stderr", scored > 1 ? json(mean_score_stderr) : json(nullptr)},
          {"groups", g},
          {"avg_len", avg_len},
          {"counts", {{"records", records}, {"scored", scored}, {"unparsable", excluded.count(kUnparsable) ? excluded.at(kUnparsable) : 0}}},
          {"excluded", ex}};
}

}  // namespace packbench::evals::wildbench
