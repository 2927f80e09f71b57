// The machine's GEMM ceiling, measured once and cached, for MFU.
#include "trainers/mfu.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/paths.h"
#include "trainers/parallel/blas_kernels.h"

namespace packbench::train {

GemmCeiling gemm_ceiling(torch::Device device, bool bf16, double seconds, bool use_cache) {
  GemmCeiling g;
  g.device = device.is_cuda() ? "cuda" : "cpu";
  g.dtype = (bf16 && device.is_cuda()) ? "bf16" : "fp32";
  g.threads = device.is_cuda() ? 0 : at::get_num_threads();
  g.n = device.is_cuda() ? 8192 : 1024;
  // The BLAS kernel family is part of the key: the same machine measures 4-5x apart between them.
  const std::string blas = device.is_cuda() ? std::string() : blas_core_name();
  const std::string key = fmt::format("{}/{}/{}/{}{}", g.device, g.dtype, g.threads, g.n, blas.empty() ? "" : "/" + blas);
  const std::string path = cache_dir() + "/gemm_ceiling.json";
  nlohmann::json cache = nlohmann::json::object();
  if (use_cache) {
    std::ifstream in(path);
    if (in) {
      try {
        in >> cache;
        if (cache.contains(key)) {
          g.flops_per_second = cache[key].get<double>();
          g.cached = true;
          return g;
        }
      } catch (const std::exception&) {
        cache = nlohmann::json::object();  // a bad cache is remeasured and rewritten
      }
    }
  }
  torch::NoGradGuard ng;
  auto opts = torch::TensorOptions().device(device).dtype(g.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32);
  auto a = torch::randn({g.n, g.n}, opts), b = torch::randn({g.n, g.n}, opts);
  auto c = torch::matmul(a, b);  // warm-up
  if (device.is_cuda()) c.cpu();
  // The best of three timed windows: a ceiling is what the machine can do, not its average under
  // whatever else was running at that moment.
  for (int window = 0; window < 3; ++window) {
    int64_t iters = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      c = torch::matmul(a, b);
      ++iters;
      if (device.is_cuda()) c.sum().item<float>();
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    g.flops_per_second =
        std::max(g.flops_per_second, 2.0 * double(g.n) * double(g.n) * double(g.n) * double(iters) / elapsed);
  }
  if (use_cache) {
    cache[key] = g.flops_per_second;
    try {
      write_file_atomic(path, cache.dump(2) + "\n");
    } catch (const std::exception&) {
      // a read-only cache folder only costs a remeasurement next time
    }
  }
  return g;
}

}  // namespace packbench::train
