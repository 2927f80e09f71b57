// What the LibTorch runtime of this build is: version, CUDA / cuDNN / NCCL, devices, BLAS, threads.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

namespace packbench::train {

// The facts `packbench env` reports about LibTorch. Keys: torch_version, cuda_compiled,
// cuda_version (the CUDA runtime LibTorch was built with; null without CUDA), cudnn_version,
// nccl_compiled, nccl_version, devices ([{index, name, memory_bytes, compute_capability}]),
// cuda_unavailable_reason (why no device is visible, or null), blas, mkl, openmp, threads.
// Never throws for a missing GPU or driver: devices is then empty and the reason says why.
nlohmann::json torch_runtime_info();

// The most memory this process has used on `device` so far: the CUDA caching allocator's peak
// allocated bytes for a CUDA device, the peak resident set size (bytes) for the CPU.
int64_t peak_memory_bytes(const torch::Device& device);

}  // namespace packbench::train
