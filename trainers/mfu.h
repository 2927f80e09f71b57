// The machine's GEMM ceiling (FLOP/s of a large matmul), measured once and cached, for MFU.
#pragma once

#include <torch/torch.h>

#include <string>

namespace packbench::train {

struct GemmCeiling {
  double flops_per_second = 0.0;  // sustained FLOP/s of an n x n x n matmul on one device
  int64_t n = 0;
  std::string dtype, device;
  int threads = 0;
  bool cached = false;
};

// Times a square matmul (fp32 on CPU, bf16 on CUDA when `bf16`): the best of three windows of about
// `seconds`, cached in <cache_dir()>/gemm_ceiling.json under (device, dtype, threads, n, BLAS
// kernels). A cached value is checked with one 0.1 s window first; when that window is faster (the
// cache was measured on a busy machine), the full measurement runs again and the higher value is kept.
GemmCeiling gemm_ceiling(torch::Device device, bool bf16, double seconds = 0.5, bool use_cache = true);

}  // namespace packbench::train
