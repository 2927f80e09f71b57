// The machine's GEMM ceiling, measured once, cached, and raised when a quick check beats it, for MFU.
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

namespace {

// FLOP/s of the best of `windows` timed windows of about `seconds` each: a ceiling is what the
// machine can do, not its average under whatever else was running at that moment.
double time_matmul(torch::Device device, const std::string& dtype, int64_t n, double seconds, int windows) {
  torch::NoGradGuard ng;
  auto opts = torch::TensorOptions().device(device).dtype(dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32);
  auto a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  auto c = torch::matmul(a, b);  // warm-up
  if (device.is_cuda()) c.cpu();
  double best = 0;
  for (int window = 0; window < windows; ++window) {
    int64_t iters = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      c = torch::matmul(a, b);
      ++iters;
      if (device.is_cuda()) c.sum().item<float>();
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    best = std::max(best, 2.0 * double(n) * double(n) * double(n) * double(iters) / elapsed);
  }
  return best;
}

}  // namespace

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
  double cached = 0;
  if (use_cache) {
    std::ifstream in(path);
    if (in) {
      try {
        in >> cache;
        if (cache.contains(key)) cached = cache[key].get<double>();
      } catch (const std::exception&) {
        cache = nlohmann::json::object();  // a bad cache is remeasured and rewritten
      }
    }
  }
  if (cached > 0) {
    // A cached ceiling measured while the machine was busy is too low (and MFU then reads above
    // 1): one short window checks it, and only a faster window costs a full measurement.
    if (time_matmul(device, g.dtype, g.n, std::min(seconds, 0.1), 1) <= cached) {
      g.flops_per_second = cached;
      g.cached = true;
      return g;
    }
  }
  g.flops_per_second = std::max(cached, time_matmul(device, g.dtype, g.n, seconds, 3));
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
