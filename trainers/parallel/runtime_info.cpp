// What the LibTorch runtime of this build is: version, CUDA / cuDNN / NCCL, devices, BLAS, threads.
#include "trainers/parallel/runtime_info.h"

#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <sys/resource.h>

#include <string>

#include "trainers/parallel/blas_kernels.h"

#if PACKBENCH_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <cuda_runtime_api.h>
#if PACKBENCH_HAVE_NCCL
#include <torch/csrc/cuda/nccl.h>
#endif
#endif

namespace packbench::train {
namespace {

#if PACKBENCH_HAVE_CUDA
// 13020 -> "13.2" (CUDA's own encoding: 1000 x major + 10 x minor).
std::string cuda_version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }
#endif

}  // namespace

nlohmann::json torch_runtime_info() {
  nlohmann::json j;
  j["torch_version"] = TORCH_VERSION;
  j["cuda_compiled"] = false;
  j["cuda_version"] = nullptr;
  j["cudnn_version"] = nullptr;
  j["nccl_compiled"] = false;
  j["nccl_version"] = nullptr;
  j["devices"] = nlohmann::json::array();
  j["cuda_unavailable_reason"] = "this packbench was built without CUDA";
#if PACKBENCH_HAVE_CUDA
  j["cuda_compiled"] = true;
  j["cuda_version"] = cuda_version_string(static_cast<int>(at::detail::getCUDAHooks().versionCUDART()));
  j["cuda_toolkit_version"] = cuda_version_string(CUDART_VERSION);
  if (at::detail::getCUDAHooks().hasCuDNN()) {
    const long v = at::detail::getCUDAHooks().versionCuDNN();  // e.g. 92600 = 9.26.0
    j["cudnn_version"] = std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100);
  }
#if PACKBENCH_HAVE_NCCL
  j["nccl_compiled"] = true;
  {
    const std::uint64_t v = torch::cuda::nccl::version();  // major, minor, patch packed by NCCL
    j["nccl_version"] = std::to_string((v >> 32) & 0xffff) + "." + std::to_string((v >> 16) & 0xffff) + "." +
                        std::to_string(v & 0xffff);
  }
#endif
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    j["cuda_unavailable_reason"] = std::string("no CUDA device visible: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error for later callers
  } else if (count == 0) {
    j["cuda_unavailable_reason"] = "no CUDA device visible";
  } else {
    j["cuda_unavailable_reason"] = nullptr;
    for (int i = 0; i < count; ++i) {
      const cudaDeviceProp* p = at::cuda::getDeviceProperties(i);
      j["devices"].push_back({{"index", i},
                              {"name", p->name},
                              {"memory_bytes", static_cast<int64_t>(p->totalGlobalMem)},
                              {"compute_capability", std::to_string(p->major) + "." + std::to_string(p->minor)}});
    }
  }
#endif
  j["blas"] = blas_kernels_description();
  j["mkl"] = at::hasMKL();
  j["openmp"] = at::hasOpenMP();
  j["threads"] = at::get_num_threads();
  return j;
}

int64_t peak_memory_bytes(const torch::Device& device) {
#if PACKBENCH_HAVE_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].peak;  // [0]: the aggregate over both pools
  }
#endif
  struct rusage u {};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux reports kilobytes
}

}  // namespace packbench::train
