// The study's "wildbench" stage: a cell's trained model answers WildBench through packbench serve and the configured judge scores it (Table 2).
#include "harness/wildbench_stage.h"

#include <fmt/core.h>

#include <filesystem>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "harness/subprocess.h"

namespace packbench::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path out_dir(const std::string& cell_dir) { return fs::path(cell_dir) / "eval" / "wildbench"; }

std::string str(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_string()) throw Error(where + "." + key + ": expected a string");
  return it->get<std::string>();
}

std::string integer(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_number_integer()) throw Error(where + "." + key + ": expected an integer");
  return std::to_string(it->get<int64_t>());
}

void check_keys(const json& obj, const std::set<std::string>& known, const std::string& where) {
  if (!obj.is_object()) throw Error(where + ": expected a mapping");
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (!known.count(it.key())) throw Error(where + ": unknown key '" + it.key() + "'");
}

}  // namespace

bool wildbench_stage_done(const std::string& cell_dir) {
  const fs::path p = out_dir(cell_dir) / "results.json";
  std::error_code ec;
  if (!fs::exists(p, ec)) return false;
  try {
    const json r = json::parse(read_file(p.string()));
    // A stage skipped for want of a judge runs again once one is configured.
    return !r.at("results").at("wildbench").contains("skipped");
  } catch (const std::exception&) {
    return false;
  }
}

void run_wildbench_stage(const StudyConfig& config, const Cell& cell, const std::string& cell_dir, const json& train,
                         const std::string& log) {
  const std::string where = config.source + ".eval";
  const fs::path out = out_dir(cell_dir);
  if (!config.eval.contains("judge") || config.eval["judge"].is_null()) {
    const std::string why = "no judge configured (set eval.judge: {url, model, api_key_env} in the study config)";
    json r = {{"results", {{"wildbench", {{"alias", "wildbench"}, {"skipped", why}}}}}};
    write_file_atomic((out / "results.json").string(), r.dump(2) + "\n");
    fmt::print(stderr, "packbench: {} [wildbench] skipped: {}\n", cell.id, why);
    return;
  }
  const json& judge = config.eval["judge"];
  check_keys(judge, {"url", "model", "api_key_env", "checkpoint", "max_tokens", "note"}, where + ".judge");
  const json wbc = config.eval.value("wildbench", json::object());
  check_keys(wbc, {"data", "limit", "max_new_tokens", "concurrency"}, where + ".wildbench");
  const std::string data = str(wbc, "data", where + ".wildbench");
  if (data.empty())
    throw Error(where + ".wildbench.data: missing (the WildBench v2 test set as .json, .jsonl or .parquet)");
  std::vector<std::string> argv = {self_exe(), "wildbench", "run", "--data", data, "--out", out.string(),
                                   "--checkpoint", train.at("output_dir").get<std::string>(),
                                   "--chat-template", train.value("template", "llama3_lf07")};
  const std::string url = str(judge, "url", where + ".judge"), ckpt = str(judge, "checkpoint", where + ".judge");
  if (url.empty() == ckpt.empty()) throw Error(where + ".judge: give exactly one of 'url' or 'checkpoint'");
  if (!url.empty()) {
    argv.insert(argv.end(), {"--judge-url", url});
    if (auto m = str(judge, "model", where + ".judge"); !m.empty()) argv.insert(argv.end(), {"--judge-model", m});
    if (auto k = str(judge, "api_key_env", where + ".judge"); !k.empty())
      argv.insert(argv.end(), {"--judge-api-key-env", k});
  } else {
    argv.insert(argv.end(), {"--judge-checkpoint", ckpt});
  }
  if (auto n = integer(judge, "max_tokens", where + ".judge"); !n.empty()) argv.insert(argv.end(), {"--judge-max-tokens", n});
  if (auto n = str(judge, "note", where + ".judge"); !n.empty()) argv.insert(argv.end(), {"--note", n});
  if (auto n = integer(wbc, "limit", where + ".wildbench"); !n.empty()) argv.insert(argv.end(), {"--limit", n});
  if (auto n = integer(wbc, "max_new_tokens", where + ".wildbench"); !n.empty())
    argv.insert(argv.end(), {"--max-new-tokens", n});
  if (auto n = integer(wbc, "concurrency", where + ".wildbench"); !n.empty()) argv.insert(argv.end(), {"--concurrency", n});
  auto r = run_subprocess(argv, log, /*capture_stdout=*/true);
  if (r.exit_code != 0)
    throw Error(fmt::format("WildBench for {} failed (exit {}); its output is in {}", cell.id, r.exit_code, log));
}

}  // namespace packbench::cli
