// Default locations packbench reads from: the tokenizer cache and the shared benchmark files.
#include "core/paths.h"

#include <cstdlib>
#include <filesystem>

namespace packbench {

static std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string();
}

std::string cache_dir() {
  if (auto v = env_or_empty("PACKBENCH_CACHE"); !v.empty()) return v;
  if (auto v = env_or_empty("XDG_CACHE_HOME"); !v.empty()) return v + "/packbench";
  if (auto v = env_or_empty("HOME"); !v.empty()) return v + "/.cache/packbench";
  return ".cache/packbench";
}

std::string default_tokenizer_dir() {
  if (auto v = env_or_empty("PACKBENCH_TOKENIZER"); !v.empty()) return v;
  return cache_dir() + "/tokenizers/llama3";
}

std::string venv_dir() {
  if (auto v = env_or_empty("PACKBENCH_VENV"); !v.empty()) return v;
  return cache_dir() + "/venv";
}

std::string venv_python() {
  std::string py = venv_dir() + "/bin/python";
  return std::filesystem::exists(py) ? py : std::string();
}

std::string smollm2_gguf() {
  std::string f = cache_dir() + "/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  return std::filesystem::exists(f) ? f : std::string();
}

std::string shared_benchmarks_dir(const std::string& source_dir) {
  namespace fs = std::filesystem;
  if (auto v = env_or_empty("PACKBENCH_SHARED"); !v.empty()) {
    return fs::exists(fs::path(v) / "benchmarks") ? v + "/benchmarks" : v;
  }
  if (!source_dir.empty()) {
    fs::path p = fs::path(source_dir) / ".." / "shared" / "benchmarks";
    if (fs::exists(p)) return fs::weakly_canonical(p).string();
  }
  return "";
}

}  // namespace packbench
