// Loaders for MMLU, GSM8K, MATH and BBH in their published formats (CSV folders, jsonl, JSON per problem).
#include "evals/loaders.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/paths.h"
#include "evals/records.h"

namespace packbench::evals {
namespace fs = std::filesystem;

std::string Origin::str() const { return line > 0 ? fmt::format("{}:{}", file, line) : file; }

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<fs::path> sorted_entries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void require_exists(const std::string& path, const std::string& what) {
  if (!fs::exists(path)) throw Error(fmt::format("{} data not found at '{}'", what, path));
}

int mmlu_letter(const std::string& s, const std::string& where) {
  std::string t = s;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
  if (t.size() == 1 && t[0] >= 'A' && t[0] <= 'D') return t[0] - 'A';
  throw Error(fmt::format("{}: field 'answer' must be one of A, B, C, D, got '{}'", where, s));
}

std::vector<MmluDoc> load_mmlu_csv_folder(const fs::path& dir, const std::string& split) {
  const std::string suffix = "_" + split + ".csv";
  std::vector<MmluDoc> docs;
  bool any = false;
  for (const auto& p : sorted_entries(dir)) {
    const std::string name = p.filename().string();
    if (!ends_with(name, suffix)) continue;
    any = true;
    const std::string subject = name.substr(0, name.size() - suffix.size());
    for (auto& row : read_csv(p.string())) {
      const std::string where = where_line(p.string(), row.line);
      if (row.fields.size() != 6)
        throw Error(fmt::format("{}: expected 6 columns (question, A, B, C, D, answer), got {}", where,
                                row.fields.size()));
      MmluDoc d;
      d.subject = subject;
      d.question = row.fields[0];
      for (int i = 0; i < 4; ++i) d.choices[i] = row.fields[1 + i];
      d.answer = mmlu_letter(row.fields[5], where);
      d.origin = {p.string(), row.line};
      docs.push_back(std::move(d));
    }
  }
  if (!any) throw Error(fmt::format("{}: no MMLU files named <subject>{}", dir.string(), suffix));
  return docs;
}

std::vector<MmluDoc> load_mmlu_jsonl(const std::string& path) {
  std::vector<MmluDoc> docs;
  for (auto& rec : read_jsonl(path)) {
    const std::string where = where_line(path, rec.line);
    MmluDoc d;
    d.question = require_string(rec.value, "question", where);
    d.subject = require_string(rec.value, "subject", where);
    const auto& ch = require_field(rec.value, "choices", where);
    if (!ch.is_array() || ch.size() != 4)
      throw Error(fmt::format("{}: field 'choices' must be an array of 4 strings", where));
    for (int i = 0; i < 4; ++i) {
      if (!ch[i].is_string()) throw Error(fmt::format("{}: field 'choices[{}]' must be a string", where, i));
      d.choices[i] = ch[i].get<std::string>();
    }
    const auto& a = require_field(rec.value, "answer", where);
    if (a.is_number_integer()) {
      int v = a.get<int>();
      if (v < 0 || v > 3) throw Error(fmt::format("{}: field 'answer' must be 0-3, got {}", where, v));
      d.answer = v;
    } else if (a.is_string()) {
      d.answer = mmlu_letter(a.get<std::string>(), where);
    } else {
      throw Error(fmt::format("{}: field 'answer' must be an integer 0-3 or a letter A-D", where));
    }
    d.origin = {path, rec.line};
    docs.push_back(std::move(d));
  }
  // lm-evaluation-harness groups MMLU by subject; keep the file order within a subject.
  std::stable_sort(docs.begin(), docs.end(),
                   [](const MmluDoc& a, const MmluDoc& b) { return a.subject < b.subject; });
  return docs;
}

}  // namespace

std::vector<MmluDoc> load_mmlu(const std::string& path, const std::string& split) {
  require_exists(path, "MMLU");
  if (fs::is_directory(path)) {
    if (fs::is_directory(fs::path(path) / split)) return load_mmlu_csv_folder(fs::path(path) / split, split);
    if (fs::exists(fs::path(path) / (split + ".jsonl"))) return load_mmlu_jsonl((fs::path(path) / (split + ".jsonl")).string());
    return load_mmlu_csv_folder(path, split);
  }
  return load_mmlu_jsonl(path);
}

std::string mmlu_subject_title(const std::string& subject) {
  std::string s = subject;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

std::vector<Gsm8kDoc> load_gsm8k(const std::string& path, const std::string& split) {
  require_exists(path, "GSM8K");
  std::string file = path;
  if (fs::is_directory(path)) file = (fs::path(path) / (split + ".jsonl")).string();
  require_exists(file, "GSM8K");
  std::vector<Gsm8kDoc> docs;
  for (auto& rec : read_jsonl(file)) {
    const std::string where = where_line(file, rec.line);
    Gsm8kDoc d;
    d.question = require_string(rec.value, "question", where);
    d.answer = require_string(rec.value, "answer", where);
    if (d.answer.find("#### ") == std::string::npos)
      throw Error(fmt::format("{}: field 'answer' has no '#### <number>' final answer", where));
    d.origin = {file, rec.line};
    docs.push_back(std::move(d));
  }
  return docs;
}

namespace {

MathDoc math_from_json(const nlohmann::json& v, const std::string& where, Origin origin) {
  MathDoc d;
  d.problem = require_string(v, "problem", where);
  d.solution = require_string(v, "solution", where);
  d.level = v.contains("level") && v["level"].is_string() ? v["level"].get<std::string>() : "";
  d.type = v.contains("type") && v["type"].is_string() ? v["type"].get<std::string>() : "";
  d.origin = std::move(origin);
  return d;
}

}  // namespace

std::vector<MathDoc> load_math(const std::string& path, const std::string& split) {
  require_exists(path, "MATH");
  std::vector<MathDoc> docs;
  std::string file = path;
  if (fs::is_directory(path)) {
    fs::path jsonl = fs::path(path) / (split + ".jsonl");
    if (fs::exists(jsonl)) {
      file = jsonl.string();
    } else {
      fs::path root = fs::is_directory(fs::path(path) / split) ? fs::path(path) / split : fs::path(path);
      for (const auto& subject : sorted_entries(root)) {
        if (!fs::is_directory(subject)) continue;
        std::vector<std::pair<long long, fs::path>> files;
        for (const auto& p : sorted_entries(subject)) {
          if (p.extension() != ".json") continue;
          const std::string stem = p.stem().string();
          long long key = -1;
          try {
            size_t used = 0;
            key = std::stoll(stem, &used);
            if (used != stem.size()) key = -1;
          } catch (...) {
          }
          files.emplace_back(key, p);
        }
        std::sort(files.begin(), files.end());
        for (auto& [key, p] : files) {
          auto v = read_json_file(p.string());
          docs.push_back(math_from_json(v, p.string(), Origin{p.string(), 0}));
        }
      }
      if (docs.empty()) throw Error(fmt::format("{}: no MATH problems (<subject>/<id>.json or {}.jsonl)", path, split));
      return docs;
    }
  }
  for (auto& rec : read_jsonl(file)) {
    const std::string where = where_line(file, rec.line);
    docs.push_back(math_from_json(rec.value, where, Origin{file, rec.line}));
  }
  return docs;
}

std::vector<BbhTask> load_bbh(const std::string& path, const std::vector<std::string>& only) {
  require_exists(path, "BBH");
  fs::path root(path);
  fs::path json_dir = fs::is_directory(root / "bbh") ? root / "bbh" : root;
  fs::path prompt_dir = root / "cot-prompts";
  if (!fs::is_directory(prompt_dir)) prompt_dir = json_dir.parent_path() / "cot-prompts";
  if (!fs::is_directory(prompt_dir))
    throw Error(fmt::format("{}: no cot-prompts/ folder next to the BBH task files", path));
  std::vector<BbhTask> tasks;
  for (const auto& p : sorted_entries(json_dir)) {
    if (p.extension() != ".json") continue;
    BbhTask t;
    t.name = p.stem().string();
    if (!only.empty() && std::find(only.begin(), only.end(), t.name) == only.end()) continue;
    auto v = read_json_file(p.string());
    const auto& ex = require_field(v, "examples", p.string());
    if (!ex.is_array()) throw Error(fmt::format("{}: field 'examples' must be an array", p.string()));
    for (size_t i = 0; i < ex.size(); ++i) {
      const std::string where = fmt::format("{}: examples[{}]", p.string(), i);
      BbhExample e;
      e.input = require_string(ex[i], "input", where);
      e.target = require_string(ex[i], "target", where);
      e.origin = {p.string(), static_cast<int64_t>(i + 1)};
      t.examples.push_back(std::move(e));
    }
    const fs::path prompt_file = prompt_dir / (t.name + ".txt");
    if (!fs::exists(prompt_file)) throw Error(fmt::format("{}: missing chain-of-thought prompt file", prompt_file.string()));
    std::string prompt = read_file(prompt_file.string());
    const size_t sep = prompt.find("-----\n");
    if (sep != std::string::npos && prompt.compare(0, 9, "BENCHMARK") == 0) prompt = prompt.substr(sep + 6);
    while (!prompt.empty() && (prompt.back() == '\n' || prompt.back() == ' ')) prompt.pop_back();
    t.cot_prompt = std::move(prompt);
    tasks.push_back(std::move(t));
  }
  for (const auto& name : only) {
    if (std::none_of(tasks.begin(), tasks.end(), [&](const BbhTask& t) { return t.name == name; }))
      throw Error(fmt::format("{}: no BBH task named '{}'", json_dir.string(), name));
  }
  if (tasks.empty()) throw Error(fmt::format("{}: no BBH task files (<task>.json)", json_dir.string()));
  return tasks;
}

std::string default_data_path(const std::string& benchmark) {
#ifdef PACKBENCH_SOURCE_DIR
  std::string root = shared_benchmarks_dir(PACKBENCH_SOURCE_DIR);
#else
  std::string root = shared_benchmarks_dir();
#endif
  if (root.empty()) root = shared_benchmarks_dir(fs::current_path().string());  // run from a checkout
  if (root.empty())
    throw Error(fmt::format("no data path for {} given and the shared benchmark folder was not found "
                            "(set PACKBENCH_SHARED or pass --data)", benchmark));
  return root + "/" + benchmark;
}

}  // namespace packbench::evals
