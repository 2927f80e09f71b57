// packbench 'score' subcommand: score responses from files against a benchmark (all six tasks).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/tasks.h"
#include "harness/commands.h"

namespace packbench::cli {
namespace {

struct ScoreOptions {
  std::string task, responses, data, out;
  int threads = 0;
};

std::string format_value(const nlohmann::json& v) {
  if (v.is_number()) return fmt::format("{:.4f}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// One line per "metric,filter" key: "task  filter  n-shot  metric  value ± stderr", as
// lm-eval's table reads.
void print_table(const evals::TaskScore& s, bool top) {
  for (auto it = s.metrics.begin(); it != s.metrics.end(); ++it) {
    const std::string& key = it.key();
    if (key.find("_stderr") != std::string::npos) continue;
    const size_t comma = key.find(',');
    const std::string metric = comma == std::string::npos ? key : key.substr(0, comma);
    const std::string filter = comma == std::string::npos ? "none" : key.substr(comma + 1);
    std::string stderr_key = comma == std::string::npos ? key + "_stderr" : metric + "_stderr," + filter;
    std::string err = s.metrics.contains(stderr_key) ? format_value(s.metrics[stderr_key]) : "";
    fmt::print("{:<44} {:<17} {:>6} {:<26} {:>8}{}\n", (top ? "" : " - ") + s.task, filter, s.n_shot, metric,
               format_value(it.value()), err.empty() ? "" : " ± " + err);
  }
}

void run_score(const ScoreOptions& o) {
  const auto& entry = evals::find_task(o.task);
  if (!std::filesystem::exists(o.responses)) throw Error(fmt::format("{}: responses file not found", o.responses));
  evals::ScoreRequest req;
  req.task = entry.name;
  req.responses_path = o.responses;
  req.data_path = o.data;
  req.out_dir = o.out;
  req.threads = o.threads;
  evals::TaskScore s = entry.score(req);
  // Every task's results.json comes from here, so all six share lm-eval's shape.
  if (!o.out.empty())
    write_file_atomic((std::filesystem::path(o.out) / "results.json").string(),
                      evals::results_json({s}).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  fmt::print("{:<44} {:<17} {:>6} {:<26} {:>8}\n", "task", "filter", "n-shot", "metric", "value");
  print_table(s, true);
  for (const auto& sub : s.subtasks) print_table(sub, false);
  fmt::print("{} responses scored", s.n_samples);
  if (!o.out.empty()) fmt::print("; wrote {}/samples.jsonl and {}/results.json", o.out, o.out);
  fmt::print("\n");
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto opts = std::make_shared<ScoreOptions>();
  auto* cmd = app.add_subcommand("score", "score responses from files against a benchmark");
  std::string names;
  for (const auto& t : evals::task_registry()) {
    names += (names.empty() ? "" : ", ") + t.name;
    for (const auto& a : t.aliases) names += " (" + a + ")";
  }
  cmd->add_option("--task", opts->task, "benchmark: " + names)->required();
  cmd->add_option("--responses", opts->responses,
                  "responses: lm-evaluation-harness samples_<task>_*.jsonl, {\"doc_id\", \"response\"} lines, "
                  "IFEval input_response_data, human-eval samples")
      ->required();
  cmd->add_option("--data", opts->data, "the benchmark's files (default: the shared benchmark folder)");
  cmd->add_option("--out", opts->out, "folder for samples.jsonl (verdicts, input order) and results.json");
  cmd->add_option("--threads", opts->threads, "worker threads for code execution (0 = all cores)");
  cmd->callback([opts] { run_score(*opts); });
}

}  // namespace packbench::cli
