// HumanEval: loading the problems, building the programs that test a completion, running them.
#include "evals/humaneval/humaneval.h"

#include "core/error.h"
#include "core/progress.h"

#include <nlohmann/json.hpp>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

namespace packbench::evals {
namespace fs = std::filesystem;

namespace {

// The whole file, gunzipped when it is gzip (zlib reads plain files through unchanged).
std::string read_maybe_gzip(const std::string& path) {
  if (!fs::is_regular_file(path)) throw Error(path + ": not found or not a regular file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open");
  std::string data;
  char buf[1 << 16];
  for (;;) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int errnum = 0;
      std::string msg = gzerror(f, &errnum);
      gzclose(f);
      throw Error(path + ": cannot decompress: " + msg);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  gzclose(f);
  return data;
}

std::string string_field(const nlohmann::json& j, const char* field, const std::string& where) {
  auto it = j.find(field);
  if (it == j.end()) throw Error(where + ": field '" + field + "' is missing");
  if (!it->is_string()) throw Error(where + ": field '" + field + "' must be a string, got " + it->type_name());
  return it->get<std::string>();
}

}  // namespace

std::vector<HumanEvalProblem> load_humaneval(const std::string& path) {
  std::string data = read_maybe_gzip(path);
  std::vector<HumanEvalProblem> problems;
  std::set<std::string> seen;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    std::string line = data.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw Error(where + ": expected a JSON object");
    HumanEvalProblem p;
    p.task_id = string_field(j, "task_id", where);
    p.prompt = string_field(j, "prompt", where);
    p.canonical_solution = string_field(j, "canonical_solution", where);
    p.test = string_field(j, "test", where);
    p.entry_point = string_field(j, "entry_point", where);
    if (p.task_id.empty()) throw Error(where + ": field 'task_id' is empty");
    if (p.entry_point.empty()) throw Error(where + ": field 'entry_point' is empty");
    if (!seen.insert(p.task_id).second) throw Error(where + ": field 'task_id': '" + p.task_id + "' appears twice");
    problems.push_back(std::move(p));
  }
  if (problems.empty()) throw Error(path + ": no problems in the file");
  return problems;
}

std::string resolve_humaneval_path(const std::string& data_path) {
  auto in_folder = [](const fs::path& dir) -> std::string {
    for (const char* rel : {"HumanEval.jsonl.gz", "HumanEval.jsonl", "humaneval/HumanEval.jsonl.gz",
                            "humaneval/HumanEval.jsonl"}) {
      if (fs::is_regular_file(dir / rel)) return (dir / rel).string();
    }
    return "";
  };
  if (!data_path.empty()) {
    if (fs::is_regular_file(data_path)) return data_path;
    if (fs::is_directory(data_path)) {
      if (auto p = in_folder(data_path); !p.empty()) return p;
      throw Error(data_path + ": no HumanEval.jsonl.gz or HumanEval.jsonl in this folder");
    }
    throw Error(data_path + ": HumanEval data not found");
  }
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("PACKBENCH_SHARED"); env && *env) {
    roots.push_back(fs::path(env) / "benchmarks");
    roots.push_back(fs::path(env));
  }
  std::error_code ec;
  std::vector<fs::path> starts = {fs::current_path(ec)};
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  for (const auto& s : starts) {
    for (fs::path d = s; !d.empty(); d = d.parent_path()) {
      roots.push_back(d / "shared" / "benchmarks");
      if (d == d.root_path()) break;
    }
  }
  for (const auto& r : roots) {
    if (auto p = in_folder(r); !p.empty()) return p;
  }
  throw Error("HumanEval data not found: pass --data PATH (HumanEval.jsonl[.gz] or its folder) or set PACKBENCH_SHARED");
}

std::string humaneval_program(const HumanEvalProblem& problem, const std::string& completion) {
  return problem.prompt + completion + "\n" + problem.test + "\n" + "check(" + problem.entry_point + ")";
}

const std::vector<std::string>& humaneval_stop_sequences() {
  static const std::vector<std::string> stops = {"\nclass", "\ndef", "\n#", "\nif", "\nprint"};
  return stops;
}

std::vector<SandboxResult> run_programs(const Sandbox& sandbox, const std::vector<std::string>& programs, int threads,
                                        const std::string& label) {
  std::vector<SandboxResult> results(programs.size());
  if (programs.empty()) return results;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(programs.size()));
  std::unique_ptr<Progress> progress;
  if (!label.empty()) progress = std::make_unique<Progress>(label, static_cast<int64_t>(programs.size()), "prog");
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mu;
  auto worker = [&]() {
    for (;;) {
      if (stop.load()) return;
      size_t i = next.fetch_add(1);
      if (i >= programs.size()) return;
      try {
        results[i] = sandbox.run_python(programs[i]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
        stop = true;
        return;
      }
      if (progress) progress->add();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (progress) progress->finish();
  if (error) std::rethrow_exception(error);
  return results;
}

}  // namespace packbench::evals
