// Runs the study: prepares shared inputs, runs each cell's stages (skipping finished ones), writes tables.
#include "harness/study_runner.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/paths.h"
#include "core/progress.h"
#include "datasets/sft_convert.h"
#include "harness/build_info.h"
#include "harness/env_info.h"
#include "harness/subprocess.h"
#include "harness/synth_data.h"
#include "harness/tokenizer_setup.h"
#include "harness/wildbench_stage.h"
#include "harness/yaml_json.h"
#include "results/cell_record.h"
#include "results/study_tables.h"
#include "results/table.h"

namespace packbench::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

json read_json_or(const fs::path& p, json def) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return def;
  try {
    return json::parse(read_file(p.string()));
  } catch (const json::parse_error& e) {
    throw Error(p.string() + ": not valid JSON: " + e.what());
  }
}

// A non-zero rank launched by srun/torchrun only trains; rank 0 keeps the books.
bool is_secondary_rank() {
  const char* r = std::getenv("RANK");
  return r && std::string(r) != "0";
}

int int_setting(const json& j, const char* key, int def) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int>() : def;
}

// eval.limit: N (every task) or {task: N, ...} -> packbench eval's --limit ("N" or "task=N,...").
std::string eval_limit_arg(const json& limit, const std::string& source) {
  if (limit.is_number_integer()) return std::to_string(limit.get<int64_t>());
  if (!limit.is_object() || limit.empty())
    throw Error(source + ".eval.limit: expected an integer or a mapping of task to integer");
  std::string out;
  for (auto it = limit.begin(); it != limit.end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1)
      throw Error(source + ".eval.limit." + it.key() + ": expected an integer >= 1");
    out += (out.empty() ? "" : ",") + it.key() + "=" + std::to_string(it->get<int64_t>());
  }
  return out;
}

void check_exit(const SubprocessResult& r, const std::string& what, const std::string& log) {
  if (r.exit_code != 0) {
    throw Error(fmt::format("{} failed (exit {}); its output is in {}", what, r.exit_code, log));
  }
}

}  // namespace

std::string expand_study_path(const std::string& p, const std::string& where) {
  auto starts = [&](const char* prefix) { return p.rfind(prefix, 0) == 0; };
  if (starts("{cache}")) return cache_dir() + p.substr(7);
  if (starts("{benchmarks}")) {
    std::string root = shared_benchmarks_dir(fs::current_path().string());
    if (root.empty()) root = shared_benchmarks_dir(fs::path(self_exe()).parent_path().parent_path().parent_path().string());
    if (root.empty())
      throw Error(where + ": " + p + ": the shared benchmark folder was not found (looked for ../shared/benchmarks "
                  "next to the checkout; set PACKBENCH_SHARED to the folder holding benchmarks/)");
    return root + p.substr(12);
  }
  return p;
}

StudyRunner::StudyRunner(StudyConfig config, std::string out_dir) : config_(std::move(config)), out_(std::move(out_dir)) {
  if (out_.empty()) out_ = config_.out;
}

std::string StudyRunner::cell_dir(const Cell& c) const { return (fs::path(out_) / c.id).string(); }

std::string StudyRunner::tokenizer_dir() const {
  if (config_.tokenizer == "synth" || config_.tokenizer.empty()) return (fs::path(out_) / "_shared" / "tokenizer").string();
  return config_.tokenizer;
}

std::string StudyRunner::model_dir(const ModelSpec& m) const {
  if (!m.path.empty()) return m.path;
  if (!m.gguf.empty()) {
    // Keyed by the GGUF's file name: one import serves every study naming that file.
    return (fs::path(cache_dir()) / "models" / "imported" / fs::path(m.gguf).stem()).string();
  }
  return (fs::path(out_) / "_shared" / "models" / slug(m.name)).string();
}

std::string StudyRunner::dataset_dir(const DatasetSpec& d) const {
  if (!d.dataset_dir.empty()) return d.dataset_dir;
  return (fs::path(out_) / "_shared" / "data").string();
}

std::vector<std::string> StudyRunner::stages_for_table(int table) {
  if (table == 1) return {"data", "train", "eval"};
  if (table == 2) return {"data", "train", "wildbench"};
  return {"data", "train"};
}

static SynthOptions synth_options(const json& s, const std::string& where) {
  SynthOptions o;
  for (auto it = s.begin(); it != s.end(); ++it) {
    const std::string& k = it.key();
    if (!it->is_number()) throw Error(where + ".synth." + k + ": expected a number");
    if (k == "samples") o.samples = it->get<int64_t>();
    else if (k == "seed") o.seed = it->get<uint64_t>();
    else if (k == "max_turns") o.max_turns = it->get<int>();
    else if (k == "long_tail") o.long_tail = it->get<double>();
    else if (k == "max_sentences") o.max_sentences = it->get<int>();
    else throw Error(where + ".synth: unknown key '" + k + "'");
  }
  return o;
}

void StudyRunner::prepare() {
  fs::create_directories(out_);
  write_file_atomic((fs::path(out_) / "study.yaml").string(),
                    "# resolved from " + config_.source + "\n" + json_to_yaml(config_.raw));
  // The machine and build the study ran on (the report shows it).
  write_file_atomic((fs::path(out_) / "env.json").string(), collect_env().dump(2) + "\n");
  // 1. Synthetic datasets.
  std::vector<std::string> corpus;
  for (size_t i = 0; i < config_.datasets.size(); ++i) {
    const auto& d = config_.datasets[i];
    if (d.synth.empty()) continue;
    SynthOptions o = synth_options(d.synth, config_.source + ".datasets[" + std::to_string(i) + "]");
    fs::path file = fs::path(dataset_dir(d)) / (d.name + ".json");
    if (!fs::exists(file)) {
      fmt::print(stderr, "packbench: writing synthetic dataset {} ({} conversations)\n", file.string(), o.samples);
      write_synth_dataset(dataset_dir(d), d.name, o);
    }
    auto texts = synth_texts(o);
    corpus.insert(corpus.end(), texts.begin(), texts.end());
  }
  // 1b. Datasets converted from question/answer files (GSM8K) to sharegpt; redone when the
  // conversion's settings or the source file's size change.
  for (size_t i = 0; i < config_.datasets.size(); ++i) {
    const auto& d = config_.datasets[i];
    if (d.convert.empty()) continue;
    const std::string where = config_.source + ".datasets[" + std::to_string(i) + "].convert.file";
    const std::string input = expand_study_path(d.convert["file"].get<std::string>(), where);
    std::error_code ec;
    if (!fs::is_regular_file(input, ec))
      throw Error(where + ": " + input + " not found (GSM8K JSON lines with `question` and `answer`)");
    const int64_t max_samples = d.convert.value("max_samples", int64_t{-1});
    json source = {{"from", d.convert["from"]}, {"file", fs::absolute(input).string()},
                   {"bytes", static_cast<int64_t>(fs::file_size(input))}, {"max_samples", max_samples}};
    fs::path dir(dataset_dir(d));
    fs::path marker = dir / (d.name + ".source.json");
    if (fs::exists(dir / (d.name + ".json")) && read_json_or(marker, json()) == source) continue;
    fmt::print(stderr, "packbench: converting {} to sharegpt dataset {}\n", input, (dir / (d.name + ".json")).string());
    auto r = data::convert_gsm8k_to_sharegpt(input, dir.string(), d.name, max_samples);
    fmt::print(stderr, "packbench: {} conversations\n", r.records);
    write_file_atomic(marker.string(), source.dump(2) + "\n");
  }
  // 2. Tokenizer.
  if (config_.tokenizer == "synth") {
    ensure_trained_tokenizer(tokenizer_dir(), corpus, config_.tokenizer_vocab);
  } else if (!fs::exists(fs::path(tokenizer_dir()) / "tokenizer.json")) {
    bool needed = false;
    for (const auto& m : config_.models) needed |= !m.init.empty();
    if (needed) throw Error(config_.source + ".tokenizer: " + tokenizer_dir() + "/tokenizer.json not found");
  }
  // 3a. Models given as GGUF files: imported once (packbench model import writes a temporary
  // folder and renames it into place, so an interrupted import leaves nothing half-written).
  for (size_t i = 0; i < config_.models.size(); ++i) {
    const auto& m = config_.models[i];
    if (m.gguf.empty()) continue;
    fs::path dir = model_dir(m);
    if (fs::exists(dir / "config.json") && fs::exists(dir / "tokenizer.json")) continue;
    const std::string where = config_.source + ".models[" + std::to_string(i) + "].gguf";
    const std::string file = expand_study_path(m.gguf, where);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      throw Error(where + ": " + file + " not found (scripts/setup.sh fetches SmolLM2-135M-Instruct's GGUF)");
    fmt::print(stderr, "packbench: importing {} into {}\n", file, dir.string());
    std::string log = (fs::path(out_) / "_shared" / "logs" / ("import-" + slug(m.name) + ".log")).string();
    auto r = run_subprocess({self_exe(), "model", "import", "--gguf", file, "--out", dir.string()}, log);
    check_exit(r, "importing model " + m.name, log);
  }
  // 3b. Randomly initialised base models.
  for (const auto& m : config_.models) {
    if (m.init.empty()) continue;
    fs::path dir = model_dir(m);
    if (fs::exists(dir / "config.json") && fs::exists(dir / "tokenizer.json")) continue;
    json cfg = m.init;
    json tok = json::parse(read_file(tokenizer_dir() + "/tokenizer.json"));
    int vocab = 0;
    if (tok.contains("model") && tok["model"].contains("vocab")) vocab = static_cast<int>(tok["model"]["vocab"].size());
    if (tok.contains("added_tokens")) {
      for (const auto& a : tok["added_tokens"]) vocab = std::max(vocab, a.value("id", 0) + 1);
    }
    if (!cfg.contains("vocab_size")) cfg["vocab_size"] = vocab;
    cfg["architectures"] = json::array({"LlamaForCausalLM"});
    cfg["model_type"] = "llama";
    fs::path cfg_file = fs::path(out_) / "_shared" / "models" / (slug(m.name) + ".config.json");
    write_file_atomic(cfg_file.string(), cfg.dump(2));
    std::string log = (fs::path(out_) / "_shared" / "logs" / ("init-" + slug(m.name) + ".log")).string();
    auto r = run_subprocess({self_exe(), "model", "init", "--config", cfg_file.string(), "--out", dir.string(),
                             "--seed", std::to_string(int_setting(config_.train, "seed", 42)), "--tokenizer",
                             tokenizer_dir()},
                            log);
    check_exit(r, "initialising model " + m.name, log);
  }
}

json StudyRunner::train_config(const Cell& c) const {
  json t = config_.train;
  for (auto it = c.model->train.begin(); it != c.model->train.end(); ++it) t[it.key()] = it.value();
  t["model_name_or_path"] = fs::absolute(model_dir(*c.model)).string();
  // A DeepSpeed config named relative to the study file is found from the cell's folder too.
  if (t.contains("deepspeed") && t["deepspeed"].is_string()) {
    fs::path ds = t["deepspeed"].get<std::string>();
    if (ds.is_relative() && fs::exists(config_.source)) ds = fs::path(config_.source).parent_path() / ds;
    t["deepspeed"] = fs::absolute(ds).string();
  }
  t["dataset"] = c.dataset->name;
  t["dataset_dir"] = fs::absolute(dataset_dir(*c.dataset)).string();
  t["tokenizer_dir"] = fs::absolute(c.model->init.empty() ? model_dir(*c.model) : tokenizer_dir()).string();
  if (c.seed) t["seed"] = *c.seed;
  t["row_method"] = c.method;
  t["attention"] = config_.attention;
  t["output_dir"] = fs::absolute(fs::path(cell_dir(c)) / "train").string();
  return t;
}

bool StudyRunner::stage_done(const Cell& c, const std::string& stage) const {
  fs::path d(cell_dir(c));
  if (stage == "data") return fs::exists(d / "data_stats.json");
  if (stage == "train") return fs::exists(d / "train" / "train_results.json");
  if (stage == "eval") return fs::exists(d / "eval" / "results.json");
  if (stage == "wildbench") return wildbench_stage_done(d.string());
  throw Error("unknown stage '" + stage + "': choose data, train, eval or wildbench");
}

void StudyRunner::write_status(const Cell& c, const std::string& stage, double seconds) const {
  fs::path p = fs::path(cell_dir(c)) / "status.json";
  json s = read_json_or(p, json{{"cell_id", c.id}, {"stages", json::object()}});
  s["stages"][stage] = {{"finished_at", now_iso()}, {"seconds", seconds}, {"packbench_version", version()}, {"git_commit", git_commit()}};
  write_file_atomic(p.string(), s.dump(2));
}

void StudyRunner::run_cell(const Cell& c, const std::vector<std::string>& stages, bool force) {
  fs::path dir(cell_dir(c));
  fs::create_directories(dir);
  json train = train_config(c);
  if (!is_secondary_rank()) {
    json cell = {{"cell_id", c.id},
                 {"model", c.model->name},
                 {"dataset", c.dataset->label},
                 {"dataset_name", c.dataset->name},
                 {"dataset_size", c.dataset->size_label},
                 {"method", c.method},
                 {"attention", config_.attention},
                 {"model_index", c.model_index},
                 {"dataset_index", c.dataset_index},
                 {"study", config_.name},
                 {"study_config", config_.source}};
    if (c.seed) cell["seed"] = *c.seed;
    write_file_atomic((dir / "cell.json").string(), cell.dump(2));
    write_file_atomic((dir / "train.yaml").string(), "# packbench cell " + c.id + "\n" + json_to_yaml(train));
  }
  const int per_device = int_setting(train, "per_device_train_batch_size", 1);
  const int accum = int_setting(train, "gradient_accumulation_steps", 1);
  const char* ws = std::getenv("WORLD_SIZE");
  const int world = ws ? std::atoi(ws) : c.model->nproc;
  const std::string log_dir = (dir / "logs").string();

  for (const auto& stage : stages) {
    if (!force && stage_done(c, stage)) {
      if (!is_secondary_rank()) fmt::print(stderr, "packbench: {} [{}] already done, skipped\n", c.id, stage);
      continue;
    }
    if (is_secondary_rank() && stage != "train") continue;
    auto t0 = std::chrono::steady_clock::now();
    std::string log = log_dir + "/" + stage + ".log";
    fmt::print(stderr, "packbench: {} [{}] starting (log: {})\n", c.id, stage, log);
    if (stage == "data") {
      std::vector<std::string> argv = {
          self_exe(), "data", "stats", "--dataset", c.dataset->name, "--dataset-dir", train["dataset_dir"].get<std::string>(),
          "--tokenizer", train["tokenizer_dir"].get<std::string>(),
          "--template", train.value("template", "llama3_lf07"), "--method", c.method,
          "--cutoff", std::to_string(int_setting(train, "cutoff_len", 4096)),
          "--global-batch", std::to_string(per_device * accum * world),
          "--per-device-batch", std::to_string(per_device), "--grad-accum", std::to_string(accum),
          "--attention", config_.attention, "--seed", std::to_string(int_setting(train, "seed", 42)),
          "--preprocessing-shards", std::to_string(int_setting(train, "preprocessing_num_workers", 1)),
          "--val-size", fmt::format("{}", train.value("val_size", 0.1)),
          "--epochs", fmt::format("{}", train.value("num_train_epochs", 3.0)),
          "--preprocessing-batch", std::to_string(int_setting(train, "preprocessing_batch_size", 1000)),
          "--json"};
      auto r = run_subprocess(argv, log, /*capture_stdout=*/true);
      check_exit(r, "data stats for " + c.id, log);
      json stats;
      try {
        stats = json::parse(r.output);
      } catch (const json::parse_error& e) {
        throw Error("data stats for " + c.id + " printed invalid JSON (see " + log + "): " + e.what());
      }
      write_file_atomic((dir / "data_stats.json").string(), stats.dump(2));
    } else if (stage == "train") {
      std::vector<std::string> argv;
      if (ws || world <= 1) {
        argv = {self_exe(), "train", "--config", (dir / "train.yaml").string()};
      } else {
        argv = {self_exe(), "launch", "--nproc", std::to_string(world), "--", "train", "--config", (dir / "train.yaml").string()};
      }
      auto r = run_subprocess(argv, is_secondary_rank() ? "" : log);
      check_exit(r, "training " + c.id, log);
    } else if (stage == "eval") {
      const json& e = config_.eval;
      std::string tasks;
      for (const auto& t : e.value("tasks", json::array({"mmlu", "gsm8k", "math", "bbh", "ifeval", "humaneval"}))) {
        tasks += (tasks.empty() ? "" : ",") + t.get<std::string>();
      }
      std::vector<std::string> argv = {self_exe(), "eval", "--checkpoint", train["output_dir"].get<std::string>(),
                                       "--tasks", tasks, "--out", (dir / "eval").string()};
      if (e.contains("limit")) argv.insert(argv.end(), {"--limit", eval_limit_arg(e["limit"], config_.source)});
      if (e.contains("chat_template")) {
        if (!e["chat_template"].is_string()) throw Error(config_.source + ".eval.chat_template: expected a template name");
        argv.insert(argv.end(), {"--chat-template", e["chat_template"].get<std::string>()});
      }
      if (e.contains("batch_size")) argv.insert(argv.end(), {"--batch-size", std::to_string(e["batch_size"].get<int>())});
      if (e.contains("max_new_tokens")) argv.insert(argv.end(), {"--max-new-tokens", std::to_string(e["max_new_tokens"].get<int>())});
      if (e.contains("data_root")) argv.insert(argv.end(), {"--data-root", e["data_root"].get<std::string>()});
      auto r = run_subprocess(argv, log);
      check_exit(r, "evaluating " + c.id, log);
    } else if (stage == "wildbench") {
      run_wildbench_stage(config_, c, dir.string(), train, log);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!is_secondary_rank()) {
      write_status(c, stage, secs);
      fmt::print(stderr, "packbench: {} [{}] done in {}\n", c.id, stage, Progress::format_duration(secs));
    }
  }
}

void StudyRunner::run_all(const std::vector<std::string>& stages, bool force) {
  prepare();
  auto cs = cells();
  Progress progress("study " + config_.name, static_cast<int64_t>(cs.size()), "cells");
  for (const auto& c : cs) {
    progress.set_postfix(c.id);
    run_cell(c, stages, force);
    progress.add(1);
  }
  progress.finish();
}

std::string StudyRunner::write_tables(const std::vector<int>& tables) const {
  return write_tables_from_runs(out_, tables, {"csv", "md", "html", "tex"}, (fs::path(out_) / "tables").string());
}

std::string write_tables_from_runs(const std::string& runs_dir, const std::vector<int>& tables,
                                   const std::vector<std::string>& formats, const std::string& out_dir) {
  auto cells = results::load_cells(runs_dir);
  if (cells.empty()) throw Error(runs_dir + ": no cells found (folders with cell.json)");
  std::string md;
  for (int n : tables) {
    results::Table t = results::build_table(n, cells);
    md = results::to_markdown(t);
    for (const auto& f : formats) {
      write_file_atomic((fs::path(out_dir) / (t.id + "." + f)).string(), results::render(t, f));
    }
  }
  return md;
}

}  // namespace packbench::cli
