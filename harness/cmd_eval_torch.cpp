// packbench 'eval' subcommand: evaluate a checkpoint on the benchmarks in-process.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/paths.h"
#include "core/progress.h"
#include "datasets/tokenizer.h"
#include "evals/score_api.h"
#include "evals/tasks.h"
#include "harness/commands.h"
#include "harness/openai_client.h"
#include "inference/engine.h"
#include "inference/engine_llama.h"
#include "trainers/model/pretrained.h"

namespace fs = std::filesystem;

namespace packbench::cli {
namespace {

struct EvalArgs {
  std::string checkpoint, tasks = "mmlu,gsm8k,math,bbh,ifeval,humaneval", out = "eval", data_root;
  std::string tokenizer, chat_template = "auto", system_prompt, dtype, device = "cpu";
  std::string limit;            // "" (all) | "N" (every task) | "task=N,task=N" (the rest: all)
  int64_t max_length = 0;
  int batch_size = 8, max_new_tokens = -1, threads = 0;
  double temperature = 0.0, top_p = 1.0;
  uint64_t seed = 1234;
  bool no_bos = false;
  // Evaluation through an OpenAI-compatible server instead of a checkpoint.
  std::string model_url, model, api_key_env;
  int concurrency = 4, max_retries = 5;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// --limit: "N" for every task, or "task=N,..." (tasks not named: every doc). Returns {task: N} with
// "*" for the every-task value; errors name the bad part.
std::map<std::string, int64_t> parse_limits(const std::string& spec) {
  std::map<std::string, int64_t> out;
  auto number = [&](const std::string& s) {
    size_t used = 0;
    int64_t n = -1;
    try {
      n = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || n < 1) throw Error("--limit '" + spec + "': '" + s + "' is not an integer >= 1");
    return n;
  };
  if (spec.empty()) return out;
  if (spec.find('=') == std::string::npos) {
    out["*"] = number(spec);
    return out;
  }
  for (const auto& part : split_list(spec)) {
    auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--limit '" + spec + "': '" + part + "' is not task=N");
    const std::string task = part.substr(0, eq);
    evals::find_task(task);  // a typo fails here, naming the task
    if (!out.emplace(task, number(part.substr(eq + 1))).second)
      throw Error("--limit '" + spec + "': task '" + task + "' is given twice");
  }
  return out;
}

int64_t limit_for(const std::map<std::string, int64_t>& limits, const std::string& task) {
  if (auto it = limits.find(task); it != limits.end()) return it->second;
  if (auto it = limits.find("*"); it != limits.end()) return it->second;
  return -1;
}

nlohmann::json limits_json(const std::map<std::string, int64_t>& limits) {
  if (limits.empty()) return -1;
  if (limits.count("*")) return limits.at("*");
  return nlohmann::json(limits);
}

// A fine-tuned checkpoint is one packbench's trainer (or the Hugging Face Trainer) wrote: its
// folder or the run folder above it holds trainer_state.json or train_results.json.
bool looks_fine_tuned(const fs::path& dir) {
  for (const auto& d : {dir, dir.parent_path()})
    for (const char* f : {"trainer_state.json", "train_results.json"})
      if (fs::exists(d / f)) return true;
  return false;
}

// "auto" | "on" | "off" | a template name -> the template name, "" for none.
std::string resolve_template(const EvalArgs& a, const fs::path& ckpt) {
  if (a.chat_template == "off" || a.chat_template == "none") return "";
  if (a.chat_template == "on") return "llama3_lf07";
  if (a.chat_template == "auto") return looks_fine_tuned(ckpt) ? "llama3_lf07" : "";
  return a.chat_template;
}

// Runs every task through `lm`, writes <out>/results.json and prints one line per task.
// `counters` reports the model's running totals (named counts), for per-task timings.
void run_tasks(const EvalArgs& a, const std::vector<const evals::TaskEntry*>& tasks, evals::LanguageModel& lm,
               nlohmann::json config, const std::function<nlohmann::json()>& counters,
               std::chrono::steady_clock::time_point t_start, int threads) {
  std::vector<evals::TaskScore> scores;
  nlohmann::json timings = nlohmann::json::object();
  for (const auto* t : tasks) {
    evals::RunOptions ro;
    ro.data_path = a.data_root.empty() ? "" : (fs::path(a.data_root) / t->name).string();
    ro.out_dir = a.out.empty() ? "" : (fs::path(a.out) / t->name).string();
    ro.limit = limit_for(parse_limits(a.limit), t->name);
    ro.batch_size = a.batch_size;
    ro.threads = threads;
    fmt::print(stderr, "eval: {} ({}-shot)\n", t->name, t->n_shot);
    auto t0 = std::chrono::steady_clock::now();
    const nlohmann::json before = counters();
    evals::TaskScore s = t->run(lm, ro);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json timing = {{"seconds", secs}};
    const nlohmann::json after = counters();
    for (auto& [k, v] : after.items()) timing[k] = v.get<int64_t>() - before.at(k).get<int64_t>();
    timings[t->name] = timing;
    std::string summary;
    for (auto it = s.metrics.begin(); it != s.metrics.end(); ++it) {
      if (it.key().find("_stderr") != std::string::npos || !it.value().is_number()) continue;
      if (!summary.empty()) summary += ", ";
      summary += fmt::format("{} {:.4f}", it.key(), it.value().get<double>());
    }
    fmt::print(stderr, "eval: {} done in {}: {}\n", t->name, Progress::format_duration(secs), summary);
    scores.push_back(std::move(s));
  }

  nlohmann::json all = evals::results_json(scores);
  all["config"] = std::move(config);
  all["timings"] = timings;
  all["total_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (!a.out.empty()) {
    write_file_atomic((fs::path(a.out) / "results.json").string(), all.dump(2) + "\n");
    fmt::print(stderr, "eval: wrote {}\n", (fs::path(a.out) / "results.json").string());
  }
  std::string table;
  for (const auto& s : scores) table += fmt::format("{:<10} {}\n", s.task, s.metrics.dump());
  fmt::print("{}", table);
}

// The same tasks with every request sent to an OpenAI-compatible server.
void run_remote_eval(const EvalArgs& a, const std::vector<const evals::TaskEntry*>& tasks,
                     std::chrono::steady_clock::time_point t_start, int threads) {
  RemoteOptions ro;
  ro.url = a.model_url;
  ro.model = a.model;
  if (!a.api_key_env.empty()) {
    const char* key = std::getenv(a.api_key_env.c_str());
    if (!key || !*key) throw Error("--api-key-env " + a.api_key_env + ": that environment variable is not set");
    ro.api_key = key;
  }
  ro.concurrency = a.concurrency;
  ro.max_retries = a.max_retries;
  ro.batch_size = a.batch_size;
  if (a.chat_template == "on") ro.chat = true;
  else if (a.chat_template != "auto" && a.chat_template != "off" && a.chat_template != "none")
    throw Error("--chat-template with --model-url: on (the server's template, through /v1/chat/completions) or off, "
                "not '" + a.chat_template + "'");
  if (!a.tokenizer.empty() || !a.dtype.empty() || a.device != "cpu" || a.no_bos || a.max_length > 0)
    throw Error("--tokenizer, --dtype, --device, --no-bos and --max-length belong to the server with --model-url");
  ro.system_prompt = a.system_prompt;
  ro.max_new_tokens = a.max_new_tokens;
  ro.temperature = a.temperature;
  ro.top_p = a.top_p;
  ro.seed = a.seed;
  RemoteModel lm(ro);
  fmt::print(stderr, "eval: model '{}' at {} ({}, {} requests in flight)\n", lm.model(), lm.base_url(),
             ro.chat ? "chat completions" : "completions", ro.concurrency);
  nlohmann::json config = {
      {"model_url", lm.base_url()}, {"model", lm.model()}, {"chat", ro.chat},
      {"system_prompt", ro.system_prompt}, {"batch_size", a.batch_size}, {"concurrency", ro.concurrency},
      {"max_new_tokens", a.max_new_tokens}, {"temperature", a.temperature}, {"top_p", a.top_p},
      {"seed", a.seed}, {"limit", limits_json(parse_limits(a.limit))},
  };
  auto counters = [&lm] {
    const auto& s = lm.stats();
    return nlohmann::json{{"http_requests", s.http_requests.load()}, {"retries", s.retries.load()},
                          {"prompt_tokens", s.prompt_tokens.load()}, {"generated_tokens", s.completion_tokens.load()}};
  };
  run_tasks(a, tasks, lm, config, counters, t_start, threads);
}

void run_eval(const EvalArgs& a) {
  const auto t_start = std::chrono::steady_clock::now();
  const int threads = a.threads > 0 ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  // Resolve every task first, so a typo fails before the model loads.
  std::vector<const evals::TaskEntry*> tasks;
  for (const auto& name : split_list(a.tasks)) tasks.push_back(&evals::find_task(name));
  if (tasks.empty()) throw Error("--tasks: no task named");
  parse_limits(a.limit);  // a bad --limit fails before the model loads
  if (a.model_url.empty() == a.checkpoint.empty())
    throw Error("eval needs exactly one of --checkpoint (in-process) and --model-url (a server)");
  if (!a.model_url.empty()) return run_remote_eval(a, tasks, t_start, threads);

  const fs::path ckpt(a.checkpoint);
  if (!fs::is_regular_file(ckpt / "config.json"))
    throw Error(a.checkpoint + ": not a checkpoint folder (no config.json)");
  at::set_num_threads(threads);

  torch::Device device(torch::kCPU);
  if (a.device == "cuda") {
    if (!torch::cuda::is_available()) throw Error("--device cuda: this LibTorch build sees no CUDA device");
    device = torch::Device(torch::kCUDA);
  } else if (a.device != "cpu") {
    throw Error("--device must be cpu or cuda, not '" + a.device + "'");
  }
  std::string dtype_name = a.dtype.empty() ? (device.is_cuda() ? "bf16" : "fp32") : a.dtype;
  torch::Dtype dtype = train::dtype_from_name(dtype_name);

  std::string tok_dir = a.tokenizer;
  if (tok_dir.empty()) tok_dir = fs::exists(ckpt / "tokenizer.json") ? ckpt.string() : default_tokenizer_dir();
  auto tok = data::Tokenizer::load(tok_dir);

  fmt::print(stderr, "eval: loading {} ({}, {})\n", a.checkpoint, dtype_name, device.str());
  auto model = train::load_pretrained(a.checkpoint, dtype, device);

  train::EngineOptions eo;
  eo.batch_size = a.batch_size;
  eo.max_length = a.max_length;
  eo.max_new_tokens = a.max_new_tokens;
  eo.sampling.temperature = a.temperature;
  eo.sampling.top_p = a.top_p;
  eo.sampling.seed = a.seed;
  eo.chat_template = resolve_template(a, ckpt);
  eo.system_prompt = a.system_prompt;
  eo.add_bos = !a.no_bos;
  eo.progress = false;  // each task shows its own progress with ETA
  for (int64_t id : model->config().eos_token_ids) eo.stop_token_ids.push_back(static_cast<int32_t>(id));
  eo.name = "packbench:" + fs::absolute(ckpt).lexically_normal().string();
  train::Engine engine(train::make_llama_backend(model), tok, eo);
  fmt::print(stderr, "eval: chat template {}{}, context window {}, batch {}, {} threads\n",
             eo.chat_template.empty() ? "off" : eo.chat_template,
             a.chat_template == "auto" ? " (auto)" : "", engine.max_length(), a.batch_size, threads);

  nlohmann::json engine_config = {
      {"checkpoint", fs::absolute(ckpt).lexically_normal().string()},
      {"tokenizer", tok_dir},
      {"dtype", dtype_name},
      {"device", device.str()},
      {"chat_template", eo.chat_template.empty() ? "off" : eo.chat_template},
      {"system_prompt", eo.system_prompt},
      {"add_bos", eo.add_bos},
      {"batch_size", a.batch_size},
      {"max_length", engine.max_length()},
      {"max_new_tokens", a.max_new_tokens},
      {"temperature", a.temperature},
      {"top_p", a.top_p},
      {"seed", a.seed},
      {"limit", limits_json(parse_limits(a.limit))},
      {"stop_token_ids", engine.stop_token_ids()},
  };

  auto counters = [&engine] {
    const auto& g = engine.generate_stats();
    const auto& l = engine.loglikelihood_stats();
    return nlohmann::json{{"prompt_tokens", g.prompt_tokens}, {"generated_tokens", g.generated_tokens},
                          {"loglikelihood_requests", l.requests}, {"context_tokens", l.context_tokens}};
  };
  run_tasks(a, tasks, engine, engine_config, counters, t_start, threads);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "evaluate a checkpoint on the benchmarks, in-process or through a server");
  cmd->add_option("--checkpoint", args->checkpoint, "Hugging Face checkpoint folder (config.json + safetensors)");
  cmd->add_option("--model-url", args->model_url,
                  "evaluate through an OpenAI-compatible server instead, e.g. http://127.0.0.1:8000/v1");
  cmd->add_option("--model", args->model, "with --model-url: the model name (default: the first the server lists)");
  cmd->add_option("--api-key-env", args->api_key_env, "with --model-url: environment variable holding the API key");
  cmd->add_option("--concurrency", args->concurrency, "with --model-url: requests in flight at once")
      ->capture_default_str();
  cmd->add_option("--max-retries", args->max_retries, "with --model-url: retries on 429/5xx/unreachable, with backoff")
      ->capture_default_str();
  cmd->add_option("--tasks", args->tasks, "comma-separated: mmlu,gsm8k,math,bbh,ifeval,humaneval")
      ->capture_default_str();
  cmd->add_option("--limit", args->limit, "first N docs of each task (per subtask where a task has them), or per task: mmlu=1,gsm8k=20");
  cmd->add_option("--batch-size", args->batch_size, "rows per forward pass")->capture_default_str();
  cmd->add_option("--out", args->out, "output folder: <out>/<task>/samples.jsonl, results.json")
      ->capture_default_str();
  cmd->add_option("--data-root", args->data_root, "benchmark files root holding mmlu/ gsm8k/ ... (default: shared)");
  cmd->add_option("--chat-template", args->chat_template,
                  "auto (on for fine-tuned checkpoints) | on (llama3_lf07) | off | a template name")
      ->capture_default_str();
  cmd->add_option("--system-prompt", args->system_prompt, "system prompt with a chat template (default: the template's)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "override each task's generation length");
  cmd->add_option("--max-length", args->max_length, "context window (default: the model's)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer folder (default: the checkpoint's, else LLaMA-3's)");
  cmd->add_option("--dtype", args->dtype, "fp32 | bf16 | fp16 (default: fp32 on CPU, bf16 on CUDA)");
  cmd->add_option("--device", args->device, "cpu | cuda")->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (default: all cores)");
  cmd->add_option("--temperature", args->temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-p", args->top_p, "nucleus sampling mass")->capture_default_str();
  cmd->add_option("--seed", args->seed, "sampling seed")->capture_default_str();
  cmd->add_flag("--no-bos", args->no_bos,
                "without a chat template, no leading special tokens (default: those the tokenizer adds itself, e.g. LLaMA-3's BOS)");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace packbench::cli
