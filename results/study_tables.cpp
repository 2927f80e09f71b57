// The paper's three tables built from cell records (seeds averaged): Table 1 benchmarks, Table 2 WildBench, Table 3 timing.
#include "results/study_tables.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"

namespace packbench::results {

const std::vector<BenchmarkColumn>& table1_columns() {
  static const std::vector<BenchmarkColumn> cols = {
      // documents: MMLU's test split, GSM8K's test split, MATH's 5000 test problems, BBH's 27
      // tasks together, IFEval's prompts, HumanEval's problems.
      {"mmlu", "MMLU (5-shot)", "mmlu", {"acc,none"}, {}, 14042},
      {"gsm8k", "GSM8K (4-shot)", "gsm8k", {"exact_match,strict-match", "exact_match,flexible-extract"}, {}, 1319},
      {"math", "MATH (4-shot)", "math", {"exact_match,none", "math_verify,none"}, {"minerva_math"}, 5000},
      {"bbh", "BBH (3-shot)", "bbh", {"exact_match,get-answer", "exact_match,none"}, {}, 6511},
      {"ifeval", "IFEval (0-shot)", "ifeval", {"prompt_level_strict_acc,none"}, {}, 541},
      {"humaneval", "HumanEval (0-shot)", "humaneval", {"pass@1,create_test", "pass@1,none"}, {}, 164},
  };
  return cols;
}

std::string stderr_key(const std::string& metric_key) {
  size_t comma = metric_key.find(',');
  if (comma == std::string::npos) return metric_key + "_stderr";
  return metric_key.substr(0, comma) + "_stderr" + metric_key.substr(comma);
}

std::string dataset_title(const CellRecord& c) {
  std::string t = c.dataset + " Dataset";
  if (!c.dataset_size.empty()) t += ", Size: " + c.dataset_size;
  return t;
}

namespace {

// Order of first appearance, unless the cell carries explicit indices from the matrix.
int index_of(const CellRecord& c, const char* key) {
  auto it = c.cell.find(key);
  return it != c.cell.end() && it->is_number_integer() ? it->get<int>() : -1;
}

std::vector<const CellRecord*> ordered(const std::vector<CellRecord>& cells) {
  std::map<std::string, int> ds_order, model_order;
  for (const auto& c : cells) {
    int d = index_of(c, "dataset_index"), m = index_of(c, "model_index");
    if (!ds_order.count(c.dataset)) ds_order[c.dataset] = d >= 0 ? d : 1000 + (int)ds_order.size();
    if (!model_order.count(c.model)) model_order[c.model] = m >= 0 ? m : 1000 + (int)model_order.size();
  }
  std::vector<const CellRecord*> out;
  for (const auto& c : cells) out.push_back(&c);
  std::stable_sort(out.begin(), out.end(), [&](const CellRecord* a, const CellRecord* b) {
    auto ka = std::make_tuple(ds_order[a->dataset], model_order[a->model], method_rank(a->method));
    auto kb = std::make_tuple(ds_order[b->dataset], model_order[b->model], method_rank(b->method));
    return ka < kb;
  });
  return out;
}

// Consecutive ordered cells of the same dataset, model and method: the runs (seeds) of one row.
std::vector<std::vector<const CellRecord*>> runs_of(const std::vector<const CellRecord*>& order) {
  std::vector<std::vector<const CellRecord*>> out;
  for (const CellRecord* c : order) {
    if (!out.empty()) {
      const CellRecord* p = out.back().front();
      if (p->dataset == c->dataset && p->model == c->model && p->method == c->method) {
        out.back().push_back(c);
        continue;
      }
    }
    out.push_back({c});
  }
  return out;
}

// The first of a column's metric keys present for a task (or its aliases), with its stderr.
std::pair<std::optional<double>, std::optional<double>> score_of(const CellRecord& c, const BenchmarkColumn& b) {
  std::vector<std::string> tasks = {b.task};
  tasks.insert(tasks.end(), b.task_aliases.begin(), b.task_aliases.end());
  for (const auto& task : tasks) {
    for (const auto& k : b.metric_keys) {
      if (auto v = c.eval_metric(task, {k})) return {v, c.eval_metric(task, {stderr_key(k)})};
    }
  }
  return {std::nullopt, std::nullopt};
}

TableRow method_row(const CellRecord& c, std::vector<std::string> groups) {
  TableRow r;
  r.groups = std::move(groups);
  r.label = method_label(c.method);
  r.baseline = c.method == "padding";
  return r;
}

}  // namespace

Table build_table1(const std::vector<CellRecord>& cells) {
  Table t;
  t.id = "table1";
  t.title = "Table 1: Results of different size models and datasets on various benchmarks.";
  t.group_names = {"dataset", "model"};
  for (const auto& b : table1_columns()) t.columns.push_back({b.key, b.header, 2, true, true});
  t.columns.push_back({"avg", "Avg", 2, true, true});
  bool any_missing = false;
  const size_t nb = table1_columns().size();
  for (const auto& runs : runs_of(ordered(cells))) {
    TableRow r = method_row(*runs.front(), {dataset_title(*runs.front()), runs.front()->model});
    std::vector<RunValues> rv;
    for (const CellRecord* c : runs) {
      RunValues v;
      double sum = 0, var = 0;
      bool complete = true, all_se = true;
      for (const auto& b : table1_columns()) {
        auto [score, se] = score_of(*c, b);
        v.values.push_back(score ? std::optional<double>(*score * 100.0) : std::nullopt);
        v.stderrs.push_back(se ? std::optional<double>(*se * 100.0) : std::nullopt);
        complete &= score.has_value();
        all_se &= se.has_value();
        if (score) sum += *score * 100.0;
        if (se) var += *se * 100.0 * *se * 100.0;
      }
      v.values.push_back(complete ? std::optional<double>(sum / nb) : std::nullopt);
      v.stderrs.push_back(complete && all_se ? std::optional<double>(std::sqrt(var) / nb) : std::nullopt);
      any_missing |= !complete;
      rv.push_back(std::move(v));
    }
    merge_runs(r, rv);
    t.rows.push_back(std::move(r));
  }
  t.compute_deltas();
  t.notes.push_back("Scores are percentages; (+x) is the difference from the Padding row of the same model and dataset.");
  if (any_missing) t.notes.push_back("'-' marks a benchmark that was not evaluated for that cell; Avg needs all six.");
  return t;
}

Table build_table2(const std::vector<CellRecord>& cells) {
  Table t;
  t.id = "table2";
  t.title = "Table 2: Results of different size models and datasets on the WildBench benchmark.";
  t.group_names = {"model"};
  auto order = ordered(cells);
  std::vector<std::string> datasets;
  std::map<std::string, std::string> titles;
  for (const CellRecord* c : order) {
    if (std::find(datasets.begin(), datasets.end(), c->dataset) == datasets.end()) {
      datasets.push_back(c->dataset);
      titles[c->dataset] = c->dataset + (c->dataset_size.empty() ? "" : ", " + c->dataset_size);
    }
  }
  for (const auto& d : datasets) t.columns.push_back({d, titles[d], 2, true, true});
  // One row per (model, method); values across datasets.
  std::vector<std::string> models;
  for (const CellRecord* c : order) {
    if (std::find(models.begin(), models.end(), c->model) == models.end()) models.push_back(c->model);
  }
  bool any = false;
  for (const auto& m : models) {
    for (const char* method : {"padding", "random", "greedy", "bfd"}) {
      TableRow r;
      r.groups = {m};
      r.label = method_label(method);
      r.baseline = std::string(method) == "padding";
      bool present = false;
      // One run per seed: the k-th cell of each dataset for this model and method.
      std::vector<RunValues> rv;
      for (size_t di = 0; di < datasets.size(); ++di) {
        size_t k = 0;
        for (const CellRecord* c : order) {
          if (c->model != m || c->dataset != datasets[di] || c->method != method) continue;
          present = true;
          if (rv.size() <= k) rv.resize(k + 1, RunValues{std::vector<std::optional<double>>(datasets.size()),
                                                         std::vector<std::optional<double>>(datasets.size())});
          rv[k].values[di] = c->eval_metric("wildbench", {"score,none", "wb_score,none"});
          rv[k].stderrs[di] = c->eval_metric("wildbench", {"score_stderr,none", "wb_score_stderr,none"});
          any |= rv[k].values[di].has_value();
          ++k;
        }
      }
      if (rv.empty()) rv.push_back(RunValues{std::vector<std::optional<double>>(datasets.size()), {}});
      merge_runs(r, rv);
      if (present) t.rows.push_back(std::move(r));
    }
  }
  t.compute_deltas();
  // Why values are missing, and the caveats the WildBench runs carried (eval/wildbench/results.json).
  std::vector<std::string> reasons, caveats;
  int64_t judged = 0, unparsable = 0;
  for (const CellRecord* c : order) {
    auto w = c->evals.find("wildbench");
    if (w == c->evals.end() || !w->is_object()) continue;
    auto add = [](std::vector<std::string>& v, const nlohmann::json& s) {
      if (s.is_string() && std::find(v.begin(), v.end(), s.get<std::string>()) == v.end()) v.push_back(s);
    };
    if (w->contains("skipped")) add(reasons, (*w)["skipped"]);
    if (w->contains("note")) add(caveats, (*w)["note"]);
    if (auto j = c->eval_metric("wildbench", {"judged,none"})) judged += static_cast<int64_t>(*j);
    if (auto u = c->eval_metric("wildbench", {"unparsable,none"})) unparsable += static_cast<int64_t>(*u);
  }
  for (const auto& r : reasons) t.notes.push_back("WildBench n/a: " + r + ".");
  for (const auto& n : caveats) t.notes.push_back("WildBench: " + n + ".");
  if (unparsable > 0) {
    t.notes.push_back(std::to_string(unparsable) + " of " + std::to_string(judged) +
                      " WildBench verdicts were unparsable and are left out of the scores; a cell with no usable "
                      "verdict shows '-'.");
  }
  if (!any && reasons.empty()) {
    t.notes.push_back(
        "WildBench scores need a judge model's verdicts (the paper used GPT-4); none were found in these "
        "cells (eval/wildbench/results.json with \"score,none\"), so every value is '-'.");
  }
  return t;
}

Table build_table3(const std::vector<CellRecord>& cells) {
  Table t;
  t.id = "table3";
  t.title = "Table 3: The training time of models across various datasets.";
  t.group_names = {"dataset", "model"};
  t.columns = {
      {"epoch", "Epoch", 0, true, false},
      {"total_steps", "Total Steps", 0, false, false},
      {"train_runtime", "Total Training Time (s)", 5, false, true},
      {"train_steps_per_second", "Steps per Second", 3, true, true},
      {"train_samples_per_second", "Samples per Second", 3, true, true},
      {"train_tokens_per_second", "Tokens per Second", 1, true, true},
      {"padding_fraction", "Padding (%)", 2, false, false},
  };
  for (const auto& runs : runs_of(ordered(cells))) {
    TableRow r = method_row(*runs.front(), {dataset_title(*runs.front()), runs.front()->model});
    std::vector<RunValues> rv;
    for (const CellRecord* c : runs) {
      RunValues v;
      v.values.push_back(c->train_metric("epoch"));
      auto steps = c->train_metric("global_step");
      if (!steps) steps = c->train_metric("total_steps");
      v.values.push_back(steps);
      v.values.push_back(c->train_metric("train_runtime"));
      v.values.push_back(c->train_metric("train_steps_per_second"));
      v.values.push_back(c->train_metric("train_samples_per_second"));
      auto tps = c->train_metric("train_tokens_per_second");
      if (!tps) tps = c->train_metric("tokens_per_second");
      v.values.push_back(tps);
      std::optional<double> pad = c->train_metric("padding_fraction");
      if (!pad) {
        auto it = c->data_stats.find("padding_fraction");
        if (it != c->data_stats.end() && it->is_number()) pad = it->get<double>();
      }
      v.values.push_back(pad ? std::optional<double>(*pad * 100.0) : std::nullopt);
      rv.push_back(std::move(v));
    }
    merge_runs(r, rv);
    t.rows.push_back(std::move(r));
  }
  t.compute_deltas();
  t.notes.push_back(
      "Hugging Face Trainer metrics: samples are rows after packing. (+x) is the difference from Padding; "
      "for time, lower is better.");
  return t;
}

Table build_table(int number, const std::vector<CellRecord>& cells) {
  switch (number) {
    case 1: return build_table1(cells);
    case 2: return build_table2(cells);
    case 3: return build_table3(cells);
    default: throw Error("table " + std::to_string(number) + " does not exist: choose 1, 2 or 3");
  }
}

}  // namespace packbench::results
