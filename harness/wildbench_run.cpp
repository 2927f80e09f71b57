// A WildBench run: each task answered through an OpenAI-compatible server, judged through another, written as WildBench's judge file, resumable.
#include "harness/wildbench_run.h"

#include <fmt/core.h>

#include <atomic>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "evals/wildbench/wildbench_data.h"
#include "evals/wildbench/wildbench_score.h"
#include "harness/openai_client.h"

namespace packbench::cli {
namespace fs = std::filesystem;
namespace wb = evals::wildbench;
using nlohmann::json;

namespace {

RemoteOptions remote_options(const WildBenchEndpoint& e, const WildBenchRunOptions& o) {
  RemoteOptions r;
  r.url = e.url;
  r.model = e.model;
  r.api_key = e.api_key;
  r.concurrency = 1;  // parallelism is over tasks here
  r.max_retries = o.max_retries;
  return r;
}

std::string message_content(const json& reply, const std::string& where) {
  if (!reply.contains("choices") || !reply["choices"].is_array() || reply["choices"].empty() ||
      !reply["choices"][0].contains("message"))
    throw Error(where + ": the reply has no choices[0].message");
  const json& c = reply["choices"][0]["message"]["content"];
  return c.is_string() ? c.get<std::string>() : "";
}

json summary_json(const std::vector<wb::JudgeRecord>& records, size_t tasks, const json& groups_available,
                  const std::map<std::string, std::vector<std::string>>& tags) {
  const wb::Summary s = wb::aggregate(records, tags);
  json j = s.to_json();
  j["counts"]["tasks"] = tasks;
  j["counts"]["missing"] = tasks >= records.size() ? tasks - records.size() : 0;
  j["groups_available"] = groups_available;
  return j;
}

void write_outputs(const std::string& out, const json& summary, const json& config) {
  json s = summary;
  s["config"] = config;
  write_file_atomic((fs::path(out) / "summary.json").string(), s.dump(2) + "\n");
  json metrics = {{"score,none", summary["wb_score"]},
                  {"score_stderr,none", summary["wb_score_stderr"]},
                  {"wb_score,none", summary["wb_score"]},
                  {"task_macro,none", summary["wb_score_task_macro"]},
                  {"mean_score,none", summary["mean_score"]},
                  {"judged,none", summary["counts"]["records"]},
                  {"unparsable,none", summary["counts"]["unparsable"]},
                  {"missing,none", summary["counts"]["missing"]},
                  {"alias", "wildbench"}};
  for (auto& [g, v] : summary["groups"].items()) metrics["wb_score_" + g + ",none"] = v["wb_score"];
  if (config.contains("note") && config["note"].is_string() && !config["note"].get<std::string>().empty())
    metrics["note"] = config["note"];
  json results = {{"results", {{"wildbench", metrics}}}, {"config", config}};
  write_file_atomic((fs::path(out) / "results.json").string(), results.dump(2) + "\n");
}

}  // namespace

json summarize_judge_file(const std::string& judge_file, const std::string& data, const std::string& note) {
  auto records = wb::read_judge_file(judge_file);
  std::map<std::string, std::vector<std::string>> tags;
  size_t tasks = records.size();
  if (!data.empty()) {
    auto ts = wb::load_tasks(data);
    tags = wb::groups_by_session(ts);
    tasks = ts.size();
  }
  json j = summary_json(records, tasks, !data.empty(), tags);
  if (!note.empty()) j["note"] = note;
  return j;
}

json run_wildbench(const WildBenchRunOptions& o) {
  if (o.out.empty()) throw Error("wildbench: an output folder is needed (--out)");
  if (o.judge.url.empty()) throw Error("wildbench: no judge endpoint (--judge-url)");
  auto tasks = wb::load_tasks(wb::resolve_data_path(o.data));
  if (o.limit >= 0 && static_cast<size_t>(o.limit) < tasks.size()) tasks.resize(static_cast<size_t>(o.limit));
  const auto tags = wb::groups_by_session(tasks);
  const std::string tmpl = wb::load_score_template(o.template_path);
  fs::create_directories(o.out);
  const std::string judge_path = (fs::path(o.out) / kJudgeFile).string();

  RemoteModel answerer(remote_options(o.answer, o));
  RemoteModel judge(remote_options(o.judge, o));
  json config = {{"data", fs::absolute(wb::resolve_data_path(o.data)).string()},
                 {"tasks", tasks.size()},
                 {"answer_url", answerer.base_url()},
                 {"answer_model", answerer.model()},
                 {"judge_url", judge.base_url()},
                 {"judge_model", judge.model()},
                 {"judge_temperature", o.judge_options.temperature},
                 {"judge_max_tokens", o.judge_options.max_tokens},
                 {"judge_json_mode", o.judge_options.json_mode},
                 {"max_words_to_eval", o.judge_options.max_words},
                 {"template", o.template_path.empty() ? wb::default_template_path() : o.template_path},
                 {"max_new_tokens", o.max_new_tokens},
                 {"temperature", o.temperature},
                 {"top_p", o.top_p},
                 {"seed", o.seed},
                 {"limit", o.limit},
                 {"note", o.note}};

  // Records already judged (a resumed run): kept as they are.
  std::map<std::string, wb::JudgeRecord> done;
  if (fs::exists(judge_path)) {
    for (auto& r : wb::read_judge_file(judge_path)) {
      if (!r.model_test.empty() && r.model_test != answerer.model())
        throw Error(judge_path + ": holds records of model '" + r.model_test + "', not '" + answerer.model() +
                    "'; use another --out");
      if (tags.count(r.session_id)) done[r.session_id] = std::move(r);
    }
    fmt::print(stderr, "wildbench: resuming: {} of {} tasks already judged in {}\n", done.size(), tasks.size(), judge_path);
  }
  std::vector<size_t> todo;
  for (size_t i = 0; i < tasks.size(); ++i)
    if (!done.count(tasks[i].session_id)) todo.push_back(i);

  std::mutex mu;
  int since_save = 0;
  auto save = [&] {  // under mu
    std::vector<wb::JudgeRecord> ordered;
    for (const auto& t : tasks)
      if (auto it = done.find(t.session_id); it != done.end()) ordered.push_back(it->second);
    wb::write_judge_file(judge_path, ordered);
    since_save = 0;
  };
  auto one = [&](const wb::Task& t) {
    json body = {{"model", answerer.model()}, {"temperature", o.temperature}, {"top_p", o.top_p}, {"seed", o.seed}};
    json messages = json::array();
    for (const auto& turn : t.conversation_input) messages.push_back({{"role", turn.role}, {"content", turn.content}});
    body["messages"] = messages;
    if (o.max_new_tokens > 0) body["max_tokens"] = o.max_new_tokens;
    const std::string output =
        wb::clear_output(message_content(answerer.call("/chat/completions", &body), answerer.base_url()));
    const std::string prompt = wb::fill_score_prompt(tmpl, t, output, o.judge_options.max_words);
    std::string raw;
    json usage = nullptr;
    const bool blank = wb::is_blank(output);
    if (blank) {
      raw = wb::empty_output_verdict();  // the official code does not ask the judge
    } else {
      json jb = wb::judge_request_body(judge.model(), prompt, o.judge_options);
      json reply = judge.call("/chat/completions", &jb);
      raw = message_content(reply, judge.base_url());
      if (reply.contains("usage")) usage = reply["usage"];
    }
    const wb::Verdict v = wb::parse_verdict(raw);
    wb::JudgeRecord rec;
    rec.session_id = t.session_id;
    rec.model_test = answerer.model();
    rec.model_output = output;
    rec.score = v.score;
    rec.raw = {{"session_id", t.session_id},
               {"parsed_result", v.parsed_result},
               {"meta_data", {{"usage", usage}, {"error", nullptr}}},
               {"model_test", answerer.model()},
               {"score", v.score ? json(*v.score_text) : json(nullptr)},
               {"model_output", output},
               {"judge",
                {{"model", judge.model()},
                 {"url", judge.base_url()},
                 {"result", raw},
                 {"parsed", v.score.has_value()},
                 {"parse", blank ? "empty_output" : v.method},
                 {"problem", v.problem},
                 {"prompt", prompt}}}};
    std::lock_guard<std::mutex> lock(mu);
    done[t.session_id] = std::move(rec);
    if (++since_save >= std::max(1, o.save_every)) save();
    if (!v.score) fmt::print(stderr, "wildbench: {}: unparsable verdict recorded ({})\n", t.session_id, v.problem);
  };

  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  auto worker = [&] {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (failure) return;
      }
      const size_t k = next++;
      if (k >= todo.size()) return;
      try {
        one(tasks[todo[k]]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        return;
      }
    }
  };
  fmt::print(stderr, "wildbench: {} tasks to answer with '{}' and judge with '{}' ({} in flight)\n", todo.size(),
             answerer.model(), judge.model(), o.concurrency);
  std::vector<std::thread> pool;
  const size_t threads = std::min<size_t>(todo.size(), static_cast<size_t>(std::max(1, o.concurrency)));
  for (size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
  if (threads > 0) worker();
  for (auto& th : pool) th.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    save();
  }
  if (failure) std::rethrow_exception(failure);

  std::vector<wb::JudgeRecord> records;
  for (const auto& t : tasks) records.push_back(done.at(t.session_id));
  json summary = summary_json(records, tasks.size(), true, tags);
  write_outputs(o.out, summary, config);
  if (!o.note.empty()) summary["note"] = o.note;
  return summary;
}

}  // namespace packbench::cli
