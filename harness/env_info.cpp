// The facts `packbench env` reports and a study records in env.json: build, LibTorch, CUDA, CPU, folders.
#include "harness/env_info.h"

#include <sys/utsname.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/paths.h"
#include "harness/build_info.h"
#ifdef PACKBENCH_HAVE_TORCH
#include "trainers/parallel/runtime_info.h"
#endif

namespace packbench::cli {
namespace {

// The value of the first "key<sep>value" line of `file` whose key is `key`, or "".
std::string field_of(const std::string& file, const std::string& key, char sep) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const auto p = line.find(sep);
    if (p == std::string::npos) continue;
    std::string k = line.substr(0, p);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.pop_back();
    if (k != key) continue;
    std::string v = line.substr(p + 1);
    const auto b = v.find_first_not_of(" \t\"");
    const auto e = v.find_last_not_of(" \t\"");
    return b == std::string::npos ? "" : v.substr(b, e - b + 1);
  }
  return "";
}

// A folder and whether it is there: {"path": ..., "exists": ...}.
nlohmann::json folder(const std::string& path) {
  return {{"path", path}, {"exists", !path.empty() && std::filesystem::exists(path)}};
}

}  // namespace

nlohmann::json collect_env() {
  nlohmann::json j;
  j["packbench_version"] = version();
  j["git_commit"] = git_commit();
  j["build_type"] = build_type();
  j["compiler"] = compiler();
  j["with_torch"] = false;
  j["torch_version"] = nullptr;
  j["cuda_compiled"] = false;
  j["cuda_version"] = nullptr;
  j["cudnn_version"] = nullptr;
  j["nccl_compiled"] = false;
  j["nccl_version"] = nullptr;
  j["devices"] = nlohmann::json::array();
  j["cuda_unavailable_reason"] = "this packbench was built without LibTorch";
  j["blas"] = nullptr;
  j["threads"] = static_cast<int>(std::thread::hardware_concurrency());
#ifdef PACKBENCH_HAVE_TORCH
  j["with_torch"] = true;
  j.update(train::torch_runtime_info());
#endif
  utsname u{};
  if (uname(&u) == 0) j["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  j["os"] = field_of("/etc/os-release", "PRETTY_NAME", '=');
  j["cpu"] = field_of("/proc/cpuinfo", "model name", ':');
  j["cpu_cores"] = static_cast<int>(std::thread::hardware_concurrency());
  const std::string mem = field_of("/proc/meminfo", "MemTotal", ':');  // "24589132 kB"
  j["memory_bytes"] = mem.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::stoll(mem) * 1024);
  j["folders"] = {{"cache", folder(cache_dir())},
                  {"tokenizer", folder(default_tokenizer_dir())},
                  {"python_venv", folder(venv_dir())},
                  {"shared_benchmarks", folder(shared_benchmarks_dir())}};
  return j;
}

}  // namespace packbench::cli
