// The facts `packbench env` reports and a study records in env.json: build, LibTorch, CUDA, CPU, folders.
#pragma once

#include <nlohmann/json.hpp>

namespace packbench::cli {

// packbench_version, git_commit, build_type, compiler, with_torch, torch_version, cuda_compiled,
// cuda_version, cudnn_version, nccl_compiled, nccl_version, devices, cuda_unavailable_reason,
// blas, threads, kernel, os, cpu, cpu_cores, memory_bytes, folders.
nlohmann::json collect_env();

}  // namespace packbench::cli
