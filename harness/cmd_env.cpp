// packbench 'env': prints what a bug report needs (harness/env_info.h) as text or JSON.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <string>

#include "harness/commands.h"
#include "harness/env_info.h"

namespace packbench::cli {
namespace {

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
    const nlohmann::json j = collect_env();
    if (*json) {
      fmt::print("{}\n", j.dump(2));
    } else {
      print_text(j);
    }
  });
}

}  // namespace packbench::cli
