// packbench 'env': what a bug report needs about this binary and machine (build, LibTorch, CUDA, CPU, folders).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <sys/utsname.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "datasets/paths.h"
#include "harness/build_info.h"
#include "harness/commands.h"
#ifdef PACKBENCH_HAVE_TORCH
#include "trainers/runtime_info.h"
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

nlohmann::json collect() {
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

std::string or_dash(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void print_text(const nlohmann::json& j) {
  auto line = [](const char* k, const std::string& v) { fmt::print("{:<26}{}\n", k, v); };
  line("packbench", fmt::format("{} ({}, {}, {})", j["packbench_version"].get<std::string>(),
                                j["git_commit"].get<std::string>(), j["build_type"].get<std::string>(),
                                j["compiler"].get<std::string>()));
  line("LibTorch", j["with_torch"].get<bool>() ? or_dash(j["torch_version"]) : "not built in");
  line("CUDA compiled", j["cuda_compiled"].get<bool>() ? "yes (CUDA " + or_dash(j["cuda_version"]) + ")" : "no");
  line("cuDNN", or_dash(j["cudnn_version"]));
  line("NCCL compiled", j["nccl_compiled"].get<bool>() ? "yes (NCCL " + or_dash(j["nccl_version"]) + ")" : "no");
  if (j["devices"].empty()) {
    line("CUDA devices", "none (" + or_dash(j["cuda_unavailable_reason"]) + ")");
  } else {
    for (const auto& d : j["devices"])
      line("CUDA device", fmt::format("{}: {}, {:.1f} GiB, compute {}", d["index"].get<int>(), d["name"].get<std::string>(),
                                      d["memory_bytes"].get<double>() / (1 << 30), d["compute_capability"].get<std::string>()));
  }
  line("BLAS", or_dash(j["blas"]));
  line("threads (LibTorch)", or_dash(j["threads"]));
  line("CPU", fmt::format("{} ({} cores)", or_dash(j["cpu"]), or_dash(j["cpu_cores"])));
  line("memory", j["memory_bytes"].is_null() ? "-" : fmt::format("{:.1f} GiB", j["memory_bytes"].get<double>() / (1 << 30)));
  line("OS", fmt::format("{} ({})", or_dash(j["os"]), or_dash(j.value("kernel", nlohmann::json()))));
  for (const auto& [name, f] : j["folders"].items())
    line(("folder " + name).c_str(), f["path"].get<std::string>().empty()
                                          ? std::string("not found")
                                          : f["path"].get<std::string>() + (f["exists"].get<bool>() ? "" : " (missing)"));
}

}  // namespace

void add_env_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("env", "what a bug report needs: build, LibTorch, CUDA/NCCL, devices, BLAS, CPU, folders");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "one JSON object instead of text");
  cmd->callback([json] {
    const nlohmann::json j = collect();
    if (*json) {
      fmt::print("{}\n", j.dump(2));
    } else {
      print_text(j);
    }
  });
}

}  // namespace packbench::cli
