// Running a declared task: per-doc scoring, aggregation, in-process runs with resume, scoring from files.
#include "evals/task_runner.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "evals/filters.h"
#include "evals/math/math_answer.h"
#include "evals/metrics.h"
#include "evals/records.h"
#include "evals/regex.h"

namespace packbench::evals {
namespace fs = std::filesystem;

namespace {

std::vector<FilterPipeline> pipelines(const TaskConfig& c) {
  if (!c.filter_list.empty()) return c.filter_list;
  return {FilterPipeline{"none", {}}};
}

bool compare(const MetricSpec& m, const std::string& answer, const std::string& target) {
  if (m.compare == "exact") return exact_match(answer, target, m);
  if (m.compare == "math_equiv") return is_equiv(normalize_math_answer(answer), target);
  throw Error(fmt::format("metric '{}': unknown comparison '{}'", m.metric, m.compare));
}

// JSON cannot hold NaN: lm-eval writes "N/A" for an undefined stderr.
nlohmann::json number_or_na(double v) { return std::isnan(v) ? nlohmann::json("N/A") : nlohmann::json(v); }

std::vector<std::string> metric_keys(const TaskConfig& c) {
  std::vector<std::string> keys;
  for (const auto& m : c.metric_list) {
    if (c.output_type == "multiple_choice") {
      keys.push_back(m.metric + ",none");
    } else {
      for (const auto& f : pipelines(c)) keys.push_back(m.metric + "," + f.name);
    }
  }
  return keys;
}

}  // namespace

nlohmann::json score_generation(const TaskConfig& config, const TaskDoc& doc, const std::string& response) {
  nlohmann::json rec;
  rec["resps"] = nlohmann::json::array({nlohmann::json::array({response})});
  nlohmann::json filtered = nlohmann::json::object();
  for (const auto& f : pipelines(config)) {
    const std::string answer = apply_filter(f, response);
    filtered[f.name] = answer;
    for (const auto& m : config.metric_list)
      rec[m.metric + "," + f.name] = compare(m, answer, doc.target) ? 1.0 : 0.0;
  }
  rec["filtered_resps"] = filtered;
  return rec;
}

nlohmann::json score_choices(const TaskConfig& config, const TaskDoc& doc, const std::vector<double>& logprobs,
                             const std::vector<bool>& greedy) {
  if (logprobs.size() != doc.choices.size())
    throw Error(fmt::format("doc {}: {} log-likelihoods for {} choices", doc.doc_id, logprobs.size(), doc.choices.size()));
  nlohmann::json resps = nlohmann::json::array();
  int pred = -1;
  for (size_t i = 0; i < logprobs.size(); ++i) {
    resps.push_back({logprobs[i], i < greedy.size() ? static_cast<bool>(greedy[i]) : false});
    if (!std::isnan(logprobs[i]) && (pred < 0 || logprobs[i] > logprobs[pred])) pred = static_cast<int>(i);
  }
  nlohmann::json rec;
  rec["resps"] = resps;
  rec["pred"] = pred;
  for (const auto& m : config.metric_list) rec[m.metric + ",none"] = pred == doc.gold ? 1.0 : 0.0;
  return rec;
}

TaskScore aggregate_records(const PreparedTask& task, const std::vector<nlohmann::json>& records,
                            const nlohmann::json& extra_config) {
  const TaskConfig& c = task.config;
  const auto keys = metric_keys(c);
  TaskScore score;
  score.task = c.task;
  score.n_shot = c.num_fewshot;
  score.version = c.version;
  score.n_samples = static_cast<int64_t>(records.size());
  score.config = c.to_json();
  score.config["data_path"] = task.data_path;
  for (auto it = extra_config.begin(); extra_config.is_object() && it != extra_config.end(); ++it)
    score.config[it.key()] = it.value();

  std::vector<std::string> order;  // subtasks in first-seen order
  std::map<std::string, std::vector<const nlohmann::json*>> by_subtask;
  for (const auto& r : records) {
    const std::string st = r.value("subtask", std::string());
    if (!by_subtask.count(st)) order.push_back(st);
    by_subtask[st].push_back(&r);
  }
  auto fill = [&](TaskScore& s, const std::vector<const nlohmann::json*>& recs) {
    for (const auto& key : keys) {
      std::vector<double> xs;
      xs.reserve(recs.size());
      for (const auto* r : recs) xs.push_back(r->at(key).get<double>());
      const size_t comma = key.find(',');
      s.metrics[key] = number_or_na(mean(xs));
      s.metrics[key.substr(0, comma) + "_stderr" + key.substr(comma)] = number_or_na(mean_stderr(xs));
    }
  };
  std::sort(order.begin(), order.end());
  std::vector<const nlohmann::json*> all;
  for (const auto& r : records) all.push_back(&r);
  fill(score, all);
  const bool has_subtasks = !(order.size() == 1 && order[0].empty()) && !order.empty();
  if (has_subtasks) {
    std::map<std::string, std::vector<double>> subtask_means;
    for (const auto& st : order) {
      TaskScore sub;
      sub.task = task.subtask_name ? task.subtask_name(st) : c.task + "_" + st;
      sub.n_shot = c.num_fewshot;
      sub.version = c.version;
      sub.n_samples = static_cast<int64_t>(by_subtask[st].size());
      fill(sub, by_subtask[st]);
      for (const auto& key : keys) subtask_means[key].push_back(sub.metrics[key].get<double>());
      score.subtasks.push_back(std::move(sub));
    }
    for (const auto& key : keys) {
      const size_t comma = key.find(',');
      score.metrics[key.substr(0, comma) + "_macro" + key.substr(comma)] = number_or_na(mean(subtask_means[key]));
    }
    if (task.subtask_category) {
      std::map<std::string, std::vector<const nlohmann::json*>> by_category;
      for (const auto& st : order) {
        const std::string cat = task.subtask_category(st);
        if (cat.empty()) continue;
        auto& v = by_category[cat];
        v.insert(v.end(), by_subtask[st].begin(), by_subtask[st].end());
      }
      for (const auto& [cat, recs] : by_category) {
        for (const auto& key : keys) {
          std::vector<double> xs;
          for (const auto* r : recs) xs.push_back(r->at(key).get<double>());
          const size_t comma = key.find(',');
          const std::string metric = key.substr(0, comma), filter = key.substr(comma);
          score.metrics[metric + "_" + cat + filter] = number_or_na(mean(xs));
          score.metrics[metric + "_" + cat + "_stderr" + filter] = number_or_na(mean_stderr(xs));
        }
      }
    }
  }
  return score;
}

namespace {

std::string samples_path(const std::string& out_dir) { return (fs::path(out_dir) / "samples.jsonl").string(); }

void write_results(const std::string& out_dir, const TaskScore& score) {
  if (out_dir.empty()) return;
  write_file_atomic((fs::path(out_dir) / "results.json").string(), results_json({score}).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

nlohmann::json base_record(const TaskDoc& d) {
  nlohmann::json rec;
  rec["doc_id"] = d.doc_id;
  if (!d.subtask.empty()) {
    rec["subtask"] = d.subtask;
    rec["subtask_doc_id"] = d.subtask_doc_id;
  }
  rec["doc"] = d.doc;
  if (d.gold >= 0) {
    rec["target"] = d.gold;
    rec["choices"] = d.choices;
  } else {
    rec["target"] = d.target;
  }
  return rec;
}

// The docs a run covers: all, or the first `limit` of each subtask.
std::vector<const TaskDoc*> selected_docs(const PreparedTask& task, int64_t limit) {
  std::vector<const TaskDoc*> out;
  std::map<std::string, int64_t> taken;
  for (const auto& d : task.docs) {
    if (limit >= 0 && taken[d.subtask] >= limit) continue;
    ++taken[d.subtask];
    out.push_back(&d);
  }
  return out;
}

// Records of an earlier, interrupted run. A torn last line (the process died mid-write) is
// dropped; any other bad line is an error.
std::map<int64_t, nlohmann::json> load_previous(const std::string& path, const PreparedTask& task,
                                                std::vector<int64_t>& order) {
  std::map<int64_t, nlohmann::json> done;
  if (!fs::exists(path)) return done;
  const std::string text = read_file(path);
  size_t pos = 0;
  int64_t line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool last = end == std::string::npos;
    if (last) end = text.size();
    ++line;
    const std::string_view sv(text.data() + pos, end - pos);
    pos = end + 1;
    if (sv.empty()) continue;
    nlohmann::json rec;
    try {
      rec = nlohmann::json::parse(sv);
    } catch (const nlohmann::json::exception&) {
      if (last) break;  // torn final line
      throw Error(fmt::format("{}: line {}: not valid JSON; remove the file to start the run afresh", path, line));
    }
    const std::string where = where_line(path, line);
    const int64_t id = require_int(rec, "doc_id", where);
    if (id < 0 || id >= static_cast<int64_t>(task.docs.size()))
      throw Error(fmt::format("{}: doc_id {} is outside this task's {} docs", where, id, task.docs.size()));
    if (rec.value("prompt", std::string()) != task.docs[id].prompt)
      throw Error(fmt::format("{}: doc {} was run with a different prompt (another task configuration?); "
                              "use a fresh output folder", where, id));
    if (!done.count(id)) order.push_back(id);
    done[id] = std::move(rec);
  }
  return done;
}

}  // namespace

TaskScore run_prepared_task(const PreparedTask& task, LanguageModel& lm, const RunOptions& options) {
  const TaskConfig& c = task.config;
  const auto docs = selected_docs(task, options.limit);
  std::map<int64_t, nlohmann::json> done;
  std::vector<int64_t> done_order;
  FILE* out = nullptr;
  std::string path;
  if (!options.out_dir.empty()) {
    fs::create_directories(options.out_dir);
    path = samples_path(options.out_dir);
    done = load_previous(path, task, done_order);
    // Rewrite what survived (drops a torn line), then append.
    std::string kept;
    for (int64_t id : done_order) kept += done[id].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    write_file_atomic(path, kept);
    out = std::fopen(path.c_str(), "ab");
    if (!out) throw Error(fmt::format("{}: cannot open for appending", path));
  }
  struct Closer {
    FILE*& f;
    ~Closer() {
      if (f) std::fclose(f);
    }
  } closer{out};

  std::vector<const TaskDoc*> todo;
  for (const auto* d : docs) {
    if (!done.count(d->doc_id)) todo.push_back(d);
  }
  Progress progress(c.task, static_cast<int64_t>(docs.size()), "doc");
  progress.set(static_cast<int64_t>(docs.size() - todo.size()));
  const size_t batch = static_cast<size_t>(std::max(1, options.batch_size));
  for (size_t b = 0; b < todo.size(); b += batch) {
    const size_t e = std::min(todo.size(), b + batch);
    std::vector<nlohmann::json> recs;
    if (c.output_type == "generate_until") {
      std::vector<GenerationRequest> reqs;
      for (size_t i = b; i < e; ++i) reqs.push_back(GenerationRequest{todo[i]->prompt, c.until, c.max_gen_toks});
      auto resps = lm.generate_until(reqs);
      if (resps.size() != reqs.size())
        throw Error(fmt::format("model {} returned {} generations for {} requests", lm.name(), resps.size(), reqs.size()));
      for (size_t i = b; i < e; ++i) {
        nlohmann::json rec = base_record(*todo[i]);
        rec["prompt"] = todo[i]->prompt;
        auto s = score_generation(c, *todo[i], resps[i - b]);
        rec.update(s);
        recs.push_back(std::move(rec));
      }
    } else {
      std::vector<LoglikelihoodRequest> reqs;
      for (size_t i = b; i < e; ++i) {
        for (const auto& ch : todo[i]->choices) reqs.push_back(LoglikelihoodRequest{todo[i]->prompt, ch});
      }
      auto res = lm.loglikelihood(reqs);
      if (res.size() != reqs.size())
        throw Error(fmt::format("model {} returned {} log-likelihoods for {} requests", lm.name(), res.size(), reqs.size()));
      size_t k = 0;
      for (size_t i = b; i < e; ++i) {
        std::vector<double> lp;
        std::vector<bool> greedy;
        for (size_t j = 0; j < todo[i]->choices.size(); ++j, ++k) {
          lp.push_back(res[k].logprob);
          greedy.push_back(res[k].is_greedy);
        }
        nlohmann::json rec = base_record(*todo[i]);
        rec["prompt"] = todo[i]->prompt;
        rec.update(score_choices(c, *todo[i], lp, greedy));
        recs.push_back(std::move(rec));
      }
    }
    for (auto& rec : recs) {
      if (out) {
        const std::string line = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::fwrite(line.data(), 1, line.size(), out);
      }
      const int64_t id = rec["doc_id"].get<int64_t>();
      done[id] = std::move(rec);
    }
    if (out) std::fflush(out);
    progress.add(static_cast<int64_t>(e - b));
  }
  progress.finish();

  std::vector<nlohmann::json> ordered;
  for (const auto* d : docs) ordered.push_back(done.at(d->doc_id));
  TaskScore score = aggregate_records(task, ordered, {{"limit", options.limit}, {"model", lm.name()}});
  write_results(options.out_dir, score);
  return score;
}

namespace {

double parse_number(const nlohmann::json& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      size_t used = 0;
      const std::string s = v.get<std::string>();
      double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (...) {
    }
  }
  throw Error(fmt::format("{}: expected a number (log-likelihood), got {}", where, v.dump()));
}

// "B", " B", "(B)", "B. text", "The answer is (B)" -> 1; otherwise -1.
int letter_choice(const std::string& response, size_t n_choices) {
  static const Regex lead("^\\s*\\(?([A-Z])\\)?(?:[.:)\\s]|$)");
  static const Regex answer_is("answer is:?\\s*\\(?([A-Z])\\b");
  for (const Regex* re : {&lead, &answer_is}) {
    if (auto m = re->search(response)) {
      int idx = (*m)[1][0] - 'A';
      if (idx >= 0 && static_cast<size_t>(idx) < n_choices) return idx;
    }
  }
  return -1;
}

}  // namespace

TaskScore score_prepared_task(const PreparedTask& task, const ScoreRequest& req) {
  const TaskConfig& c = task.config;
  const auto input = read_jsonl(req.responses_path);
  if (input.empty()) throw Error(fmt::format("{}: no responses", req.responses_path));

  // How responses find their doc: by content (lm-eval's "doc"), else by doc_id (within the
  // record's subtask when it names one).
  std::unordered_multimap<std::string, int64_t> by_key;
  std::map<std::pair<std::string, int64_t>, int64_t> by_subtask_id;
  for (const auto& d : task.docs) {
    by_key.emplace(d.match_key, d.doc_id);
    by_subtask_id[{d.subtask, d.subtask_doc_id}] = d.doc_id;
  }
  auto key_field = [&](const nlohmann::json& doc) -> std::string {
    for (const char* f : {"question", "problem", "input"}) {
      if (doc.contains(f) && doc[f].is_string()) return doc[f].get<std::string>();
    }
    return "";
  };

  std::vector<nlohmann::json> scored;
  // doc_id -> (line, raw responses of an lm-eval per-filter record)
  std::map<int64_t, std::pair<int64_t, std::string>> seen;
  for (size_t i = 0; i < input.size(); ++i) {
    const auto& rec = input[i].value;
    const std::string where = where_line(req.responses_path, input[i].line);
    int64_t file_doc_id = static_cast<int64_t>(i);
    if (rec.contains("doc_id")) file_doc_id = require_int(rec, "doc_id", where);
    std::string subtask;
    for (const char* f : {"subtask", "task"}) {
      if (rec.contains(f) && rec[f].is_string()) subtask = rec[f].get<std::string>();
    }
    int64_t id = -1;
    if (rec.contains("doc") && rec["doc"].is_object() && !key_field(rec["doc"]).empty()) {
      const std::string key = key_field(rec["doc"]);
      auto [lo, hi] = by_key.equal_range(key);
      if (lo == hi)
        throw Error(fmt::format("{}: its doc (\"{}...\") is not in the {} data at {}", where, key.substr(0, 60),
                                c.task, task.data_path));
      id = lo->second;
      for (auto it = lo; it != hi; ++it) {  // duplicates: prefer the one whose doc_id agrees
        if (task.docs[it->second].subtask_doc_id == file_doc_id) id = it->second;
      }
    } else if (!subtask.empty()) {
      // "bbh_cot_fewshot_date_understanding" or "mmlu_anatomy" name the subtask by suffix
      const TaskDoc* found = nullptr;
      for (const auto& d : task.docs) {
        if (d.subtask.empty() || d.subtask_doc_id != file_doc_id) continue;
        if (subtask == d.subtask || (subtask.size() > d.subtask.size() &&
                                     subtask.compare(subtask.size() - d.subtask.size() - 1, std::string::npos,
                                                     "_" + d.subtask) == 0)) {
          found = &d;
          break;
        }
      }
      if (!found) throw Error(fmt::format("{}: no doc {} in subtask '{}' of {}", where, file_doc_id, subtask, c.task));
      id = found->doc_id;
    } else {
      if (file_doc_id < 0 || file_doc_id >= static_cast<int64_t>(task.docs.size()))
        throw Error(fmt::format("{}: doc_id {} is outside the {} docs of {}", where, file_doc_id, task.docs.size(), c.task));
      id = file_doc_id;
    }
    // lm-eval writes one sample record per doc and filter ("filter": "strict-match", then
    // "flexible-extract"), all with the same raw resps; packbench applies every filter to the
    // raw response once, so the repeats are skipped.
    const bool per_filter = rec.contains("filter") && rec.contains("resps");
    const std::string raw = per_filter ? rec["resps"].dump() : std::string();
    if (auto it = seen.find(id); it != seen.end()) {
      if (per_filter && !it->second.second.empty() && it->second.second == raw) continue;
      throw Error(fmt::format("{}: a second response for doc {} (first on line {})", where, id, it->second.first));
    }
    seen[id] = {input[i].line, raw};
    const TaskDoc& d = task.docs[id];

    nlohmann::json out = base_record(d);
    out["line"] = input[i].line;
    if (c.output_type == "generate_until") {
      std::string response;
      if (rec.contains("response")) {
        response = require_string(rec, "response", where);
      } else if (rec.contains("resps")) {
        const auto& r = rec["resps"];
        const nlohmann::json* first = &r;
        while (first->is_array() && !first->empty()) first = &(*first)[0];
        if (!first->is_string()) throw Error(fmt::format("{}: field 'resps' must hold the generated text", where));
        response = first->get<std::string>();
      } else if (rec.contains("filtered_resps")) {
        const auto& r = rec["filtered_resps"];
        const nlohmann::json* first = &r;
        while (first->is_array() && !first->empty()) first = &(*first)[0];
        if (!first->is_string()) throw Error(fmt::format("{}: field 'filtered_resps' must hold text", where));
        response = first->get<std::string>();
      } else {
        throw Error(fmt::format("{}: missing field 'response' (or lm-eval's 'resps')", where));
      }
      out.update(score_generation(c, d, response));
    } else {
      std::vector<double> lp;
      std::vector<bool> greedy;
      const nlohmann::json* lls = nullptr;
      if (rec.contains("loglikelihoods")) lls = &rec["loglikelihoods"];
      else if (rec.contains("filtered_resps")) lls = &rec["filtered_resps"];
      else if (rec.contains("resps")) lls = &rec["resps"];
      if (lls) {
        if (!lls->is_array() || lls->size() != d.choices.size())
          throw Error(fmt::format("{}: expected {} log-likelihoods (one per choice)", where, d.choices.size()));
        for (const auto& item : *lls) {
          const nlohmann::json* v = &item;
          while (v->is_array() && !v->empty() && (*v)[0].is_array()) v = &(*v)[0];  // [[ll, greedy]]
          if (v->is_array()) {
            if (v->empty()) throw Error(fmt::format("{}: empty log-likelihood entry", where));
            lp.push_back(parse_number((*v)[0], where));
            greedy.push_back(v->size() > 1 && ((*v)[1].is_boolean() ? (*v)[1].get<bool>()
                                                                    : (*v)[1].is_string() && (*v)[1].get<std::string>() == "True"));
          } else {
            lp.push_back(parse_number(*v, where));
            greedy.push_back(false);
          }
        }
        out.update(score_choices(c, d, lp, greedy));
      } else if (rec.contains("response")) {
        const std::string response = require_string(rec, "response", where);
        const int pick = letter_choice(response, d.choices.size());
        lp.assign(d.choices.size(), -INFINITY);
        if (pick >= 0) lp[pick] = 0.0;
        out.update(score_choices(c, d, lp));
        out["pred"] = pick;
        for (const auto& m : c.metric_list) out[m.metric + ",none"] = pick == d.gold ? 1.0 : 0.0;
        out["resps"] = nlohmann::json::array({nlohmann::json::array({response})});
      } else {
        throw Error(fmt::format("{}: missing field 'loglikelihoods' (or 'response' with a letter, or lm-eval's 'resps')", where));
      }
    }
    scored.push_back(std::move(out));
  }

  if (!req.out_dir.empty()) {
    fs::create_directories(req.out_dir);
    std::string text;
    for (const auto& r : scored) text += r.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    write_file_atomic(samples_path(req.out_dir), text);
  }
  TaskScore score = aggregate_records(task, scored, {{"responses", req.responses_path}});
  write_results(req.out_dir, score);
  return score;
}

}  // namespace packbench::evals
