// One cell's stored results (config, data stats, training metrics, eval scores), read from its folder.
#include "results/cell_record.h"

#include <algorithm>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"

namespace packbench::results {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<json> read_json_if_present(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  std::string text = read_file(p.string());
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(p.string() + ": not valid JSON: " + e.what());
  }
}

std::string string_field(const json& j, const char* key, const fs::path& file, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw Error(file.string() + ": missing field '" + key + "'");
    return "";
  }
  if (!it->is_string()) throw Error(file.string() + ": field '" + key + "' must be a string");
  return it->get<std::string>();
}

// Merges the "results" block of an lm-eval style results.json into evals.
void merge_eval_results(json& evals, const json& results, const fs::path& file) {
  if (!results.is_object()) throw Error(file.string() + ": expected a JSON object");
  auto it = results.find("results");
  if (it == results.end()) return;
  if (!it->is_object()) throw Error(file.string() + ": field 'results' must be an object");
  for (auto t = it->begin(); t != it->end(); ++t) {
    if (!t->is_object()) throw Error(file.string() + ": field 'results." + t.key() + "' must be an object");
    evals[t.key()] = *t;
  }
}

}  // namespace

std::optional<double> CellRecord::train_metric(const std::string& name) const {
  auto it = train.find(name);
  if (it == train.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::optional<double> CellRecord::eval_metric(const std::string& task,
                                              const std::vector<std::string>& keys) const {
  auto t = evals.find(task);
  if (t == evals.end()) return std::nullopt;
  for (const auto& k : keys) {
    auto it = t->find(k);
    if (it != t->end() && it->is_number()) return it->get<double>();
  }
  return std::nullopt;
}

CellRecord load_cell(const std::string& cell_dir) {
  CellRecord rec;
  rec.dir = cell_dir;
  fs::path dir(cell_dir);
  fs::path cell_file = dir / "cell.json";
  auto cell = read_json_if_present(cell_file);
  if (!cell) throw Error(cell_file.string() + ": not found (is " + cell_dir + " a packbench cell folder?)");
  if (!cell->is_object()) throw Error(cell_file.string() + ": expected a JSON object");
  rec.cell = *cell;
  rec.cell_id = string_field(*cell, "cell_id", cell_file, true);
  rec.model = string_field(*cell, "model", cell_file, true);
  rec.dataset = string_field(*cell, "dataset", cell_file, true);
  rec.dataset_size = string_field(*cell, "dataset_size", cell_file, false);
  rec.method = string_field(*cell, "method", cell_file, true);

  if (auto s = read_json_if_present(dir / "data_stats.json")) rec.data_stats = *s;

  // trainer_state.json first, then train_results.json over it (the latter is the Table 3 source).
  if (auto s = read_json_if_present(dir / "train" / "trainer_state.json")) {
    if (!s->is_object()) throw Error((dir / "train" / "trainer_state.json").string() + ": expected a JSON object");
    for (auto it = s->begin(); it != s->end(); ++it) {
      if (it.key() != "log_history") rec.train[it.key()] = it.value();
    }
    if (auto lh = s->find("log_history"); lh != s->end()) {
      if (!lh->is_array()) {
        throw Error((dir / "train" / "trainer_state.json").string() + ": field 'log_history' must be a list");
      }
      rec.log_history = *lh;
    }
  }
  if (auto s = read_json_if_present(dir / "train" / "train_results.json")) {
    if (!s->is_object()) throw Error((dir / "train" / "train_results.json").string() + ": expected a JSON object");
    for (auto it = s->begin(); it != s->end(); ++it) rec.train[it.key()] = it.value();
  }

  fs::path eval_dir = dir / "eval";
  if (auto s = read_json_if_present(eval_dir / "results.json")) merge_eval_results(rec.evals, *s, eval_dir / "results.json");
  std::error_code ec;
  if (fs::is_directory(eval_dir, ec)) {
    std::vector<fs::path> tasks;
    for (const auto& e : fs::directory_iterator(eval_dir)) {
      if (e.is_directory() && fs::exists(e.path() / "results.json")) tasks.push_back(e.path());
    }
    std::sort(tasks.begin(), tasks.end());
    for (const auto& t : tasks) {
      auto s = read_json_if_present(t / "results.json");
      merge_eval_results(rec.evals, *s, t / "results.json");
    }
  }
  return rec;
}

std::vector<CellRecord> load_cells(const std::string& runs_dir) {
  std::error_code ec;
  if (!fs::is_directory(runs_dir, ec)) throw Error(runs_dir + ": not a folder");
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(runs_dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it.depth() > 2) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().filename() == "cell.json") dirs.push_back(it->path().parent_path());
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<CellRecord> cells;
  for (const auto& d : dirs) cells.push_back(load_cell(d.string()));
  return cells;
}

std::string method_label(const std::string& method) {
  if (method == "padding") return "Padding";
  if (method == "random") return "Random Packing";
  if (method == "greedy") return "Greedy Packing";
  if (method == "bfd") return "BFD Packing";
  return method;
}

int method_rank(const std::string& method) {
  static const char* order[] = {"padding", "random", "greedy", "bfd"};
  for (int i = 0; i < 4; ++i) {
    if (method == order[i]) return i;
  }
  return 4;
}

}  // namespace packbench::results
