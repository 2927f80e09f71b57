// packbench 'wildbench' subcommands: run (answer + judge + score, resumable) and score (a judge file, published ones included).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/commands.h"
#include "harness/local_server.h"
#include "harness/wildbench_run.h"

namespace fs = std::filesystem;

namespace packbench::cli {
namespace {

struct RunArgs {
  WildBenchRunOptions o;
  std::string api_key_env, judge_api_key_env;
  std::string checkpoint, judge_checkpoint, chat_template = "llama3_lf07";
  bool no_json_mode = false;
};

std::string key_from_env(const std::string& var, const char* flag) {
  if (var.empty()) return "";
  const char* v = std::getenv(var.c_str());
  if (!v || !*v) throw Error(std::string(flag) + " " + var + ": that environment variable is not set");
  return v;
}

void run(RunArgs& a) {
  a.o.answer.api_key = key_from_env(a.api_key_env, "--api-key-env");
  a.o.judge.api_key = key_from_env(a.judge_api_key_env, "--judge-api-key-env");
  a.o.judge_options.json_mode = !a.no_json_mode;
  if (a.checkpoint.empty() == a.o.answer.url.empty())
    throw Error("wildbench run needs exactly one of --model-url and --checkpoint (served here by packbench serve)");
  if (!a.judge_checkpoint.empty() && !a.o.judge.url.empty())
    throw Error("wildbench run: give --judge-url or --judge-checkpoint, not both");
  if (a.judge_checkpoint.empty() && a.o.judge.url.empty())
    throw Error("wildbench run needs a judge: --judge-url (an OpenAI-compatible endpoint) or --judge-checkpoint");
  std::optional<LocalServer> model_server, judge_server;
  const std::vector<std::string> serve_args = {"--chat-template", a.chat_template, "--threads", "1"};
  if (!a.checkpoint.empty()) {
    model_server.emplace(a.checkpoint, (fs::path(a.o.out) / "logs" / "serve-model.log").string(), serve_args);
    a.o.answer.url = model_server->url();
  }
  if (!a.judge_checkpoint.empty()) {
    if (a.judge_checkpoint == "self") {
      if (!model_server) throw Error("--judge-checkpoint self needs --checkpoint");
      a.o.judge.url = model_server->url();
    } else {
      judge_server.emplace(a.judge_checkpoint, (fs::path(a.o.out) / "logs" / "serve-judge.log").string(), serve_args);
      a.o.judge.url = judge_server->url();
    }
  }
  nlohmann::json s = run_wildbench(a.o);
  auto num = [](const nlohmann::json& v) { return v.is_number() ? fmt::format("{:.2f}", v.get<double>()) : "n/a"; };
  fmt::print(stderr, "wildbench: WB-Score {} (task macro {}), {} of {} tasks judged, {} unparsable; wrote {}\n",
             num(s["wb_score"]), num(s["wb_score_task_macro"]),
             s["counts"]["records"].get<int64_t>(), s["counts"]["tasks"].get<int64_t>(),
             s["counts"]["unparsable"].get<int64_t>(), a.o.out);
  if (!a.o.note.empty()) fmt::print(stderr, "wildbench: NOTE: {}\n", a.o.note);
  fmt::print("{}\n", s.dump(2));
}

}  // namespace

void add_wildbench_commands(CLI::App& app) {
  auto* wb = app.add_subcommand("wildbench", "WildBench v2: answer, judge with the official score template, aggregate");
  wb->require_subcommand(1);

  auto a = std::make_shared<RunArgs>();
  auto* run_cmd = wb->add_subcommand("run", "answer every task, judge every answer, write the judge file and scores (resumes)");
  run_cmd->add_option("--data", a->o.data, "WildBench v2 rows: .json, .jsonl(.gz) or .parquet")->required();
  run_cmd->add_option("--out", a->o.out, "output folder (wildbench_judge.json, summary.json, results.json)")->required();
  run_cmd->add_option("--model-url", a->o.answer.url, "the model under test: an OpenAI-compatible server (chat completions)");
  run_cmd->add_option("--model", a->o.answer.model, "its model name (default: the first the server lists)");
  run_cmd->add_option("--api-key-env", a->api_key_env, "environment variable holding the model server's API key");
  run_cmd->add_option("--checkpoint", a->checkpoint, "instead of --model-url: serve this checkpoint here (packbench serve)");
  run_cmd->add_option("--chat-template", a->chat_template, "chat template of checkpoints served here")->capture_default_str();
  run_cmd->add_option("--judge-url", a->o.judge.url, "the judge: an OpenAI-compatible server (chat completions)");
  run_cmd->add_option("--judge-model", a->o.judge.model, "the judge's model name (default: the first the server lists)");
  run_cmd->add_option("--judge-api-key-env", a->judge_api_key_env, "environment variable holding the judge's API key");
  run_cmd->add_option("--judge-checkpoint", a->judge_checkpoint,
                      "instead of --judge-url: serve this checkpoint here as the judge ('self': the --checkpoint model)");
  run_cmd->add_option("--judge-max-tokens", a->o.judge_options.max_tokens, "the judge's max_tokens (official: 1024)")
      ->capture_default_str();
  run_cmd->add_flag("--no-json-mode", a->no_json_mode, "do not send response_format json_object to the judge");
  run_cmd->add_option("--max-words", a->o.judge_options.max_words,
                      "shorten history, query and answer to N words in the judge prompt (official score runs: -1, none)")
      ->capture_default_str();
  run_cmd->add_option("--template", a->o.template_path, "judge template (default: the shipped eval_template.score.v2.md)");
  run_cmd->add_option("--limit", a->o.limit, "first N tasks");
  run_cmd->add_option("--concurrency", a->o.concurrency, "tasks in flight")->capture_default_str();
  run_cmd->add_option("--max-retries", a->o.max_retries, "retries per request on 429/5xx/unreachable")->capture_default_str();
  run_cmd->add_option("--max-new-tokens", a->o.max_new_tokens, "the answers' max_tokens (default: the server's)");
  run_cmd->add_option("--temperature", a->o.temperature, "the answers' temperature (0 = greedy)")->capture_default_str();
  run_cmd->add_option("--top-p", a->o.top_p, "the answers' nucleus mass")->capture_default_str();
  run_cmd->add_option("--seed", a->o.seed, "the answers' sampling seed")->capture_default_str();
  run_cmd->add_option("--save-every", a->o.save_every, "rewrite the judge file after this many records")->capture_default_str();
  run_cmd->add_option("--note", a->o.note, "a caveat written into summary.json and results.json");
  run_cmd->callback([a] { run(*a); });

  auto file = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* score = wb->add_subcommand("score", "WB-Score, groups and task macro of a judge file (packbench's or WildBench's published ones)");
  score->add_option("--judge-file", *file, "a judge file: a JSON list of records with session_id, score, model_output")->required();
  score->add_option("--data", *data, "WildBench v2 rows, for the sessions' task tags (without it: no groups)");
  score->add_option("--out", *out, "also write the summary JSON here");
  score->callback([file, data, out] {
    nlohmann::json s = summarize_judge_file(*file, *data, "");
    if (!out->empty()) write_file_atomic(*out, s.dump(2) + "\n");
    fmt::print("{}\n", s.dump(2));
  });
}

}  // namespace packbench::cli
