// Paths tests need: the source tree, fixtures, the built packbench binary, shared benchmarks.
#include "tests/common/test_paths.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/paths.h"

namespace packbench::testing {
namespace fs = std::filesystem;

std::string source_dir() { return PB_SOURCE_DIR; }
std::string fixtures_dir() { return std::string(PB_SOURCE_DIR) + "/tests/fixtures"; }
std::string binary_dir() { return PB_BINARY_DIR; }
std::string packbench_bin() { return std::string(PB_BINARY_DIR) + "/bin/packbench"; }

std::string shared_benchmarks() { return packbench::shared_benchmarks_dir(PB_SOURCE_DIR); }

std::string llama3_tokenizer_dir() {
  std::string d = packbench::default_tokenizer_dir();
  return fs::exists(fs::path(d) / "tokenizer.json") ? d : std::string();
}

std::string venv_python() { return packbench::venv_python(); }

namespace {
std::mutex g_mu;
std::vector<fs::path>& temp_dirs() {
  static std::vector<fs::path> dirs;
  static bool registered = false;
  if (!registered) {
    registered = true;
    std::atexit([] {
      std::error_code ec;
      for (auto& d : temp_dirs()) fs::remove_all(d, ec);
    });
  }
  return dirs;
}
}  // namespace

std::string temp_dir(const std::string& tag) {
  std::lock_guard<std::mutex> lock(g_mu);
  std::string tmpl = (fs::temp_directory_path() / ("packbench-" + tag + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  temp_dirs().emplace_back(buf.data());
  return buf.data();
}

int run_command(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    if (output) output->append(buf.data(), n);
  }
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string fixture_benchmarks(const std::string& dir, const std::vector<std::string>& tasks) {
  namespace fs = std::filesystem;
  const fs::path fx = fixtures_dir(), root = fs::path(dir) / "benchmarks";
  fs::create_directories(root);
  for (const std::string& t : tasks) {
    if (t == "humaneval") {
      fs::create_directory_symlink(fx / "humaneval", root / t);
    } else if (t == "ifeval") {
      fs::create_directories(root / t);
      fs::create_symlink(fx / "ifeval" / "input_data_small.jsonl", root / t / "input_data.jsonl");
    } else {
      fs::create_directory_symlink(fx / "evals" / t, root / t);
    }
  }
  return root.string();
}

}  // namespace packbench::testing
