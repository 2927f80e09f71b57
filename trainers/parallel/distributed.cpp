// Data parallelism over c10d: torchrun-style environment, Gloo (CPU) or NCCL (CUDA build) groups.
#include "trainers/parallel/distributed.h"

#include <fmt/format.h>

#include <cstdlib>

#include "core/error.h"

#include <torch/version.h>

#if PACKBENCH_HAVE_C10D
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if PACKBENCH_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if PACKBENCH_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace packbench::train {
namespace {

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    throw Error(fmt::format("environment variable {}='{}': expected an integer in [{}, {}]", name, v, lo, hi));
  return static_cast<int>(x);
}

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv e;
  e.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  e.rank = env_int("RANK", 0, 0, e.world_size - 1);
  e.local_world_size = env_int("LOCAL_WORLD_SIZE", e.world_size, 1, e.world_size);
  e.local_rank = env_int("LOCAL_RANK", e.rank % e.local_world_size, 0, e.local_world_size - 1);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  return e;
}

bool distributed_supported() {
#if PACKBENCH_HAVE_C10D && (PACKBENCH_HAVE_GLOO || PACKBENCH_HAVE_NCCL)
  return true;
#else
  return false;
#endif
}

#if PACKBENCH_HAVE_C10D
// LibTorch 2.x splits process groups into a ProcessGroup front and per-device Backends; the
// Gloo and NCCL classes are Backends there and ProcessGroups in 1.x.
#if TORCH_VERSION_MAJOR >= 2
using GroupBase = c10d::Backend;
#else
using GroupBase = c10d::ProcessGroup;
#endif
#endif

struct Distributed::Impl {
#if PACKBENCH_HAVE_C10D
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupBase> pg;
#endif
};

Distributed::Distributed(const DistEnv& env, torch::Device device, std::chrono::milliseconds timeout,
                         bool group_when_alone)
    : env_(env), device_(device), impl_(std::make_unique<Impl>()) {
  if (env_.world_size == 1 && !group_when_alone) return;
#if PACKBENCH_HAVE_C10D
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env_.master_port);
  so.isServer = env_.rank == 0;
  so.numWorkers = env_.world_size;
  so.waitWorkers = true;
  so.timeout = timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {}: cannot join the process group at {}:{} (world size {}): {}", env_.rank,
                            env_.master_addr, env_.master_port, env_.world_size, e.what()));
  }
  try {
    if (device.is_cuda()) {
#if PACKBENCH_HAVE_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env_.rank, env_.world_size, opts);
#else
      throw Error("this packbench was built without NCCL: data parallelism on CUDA devices is unavailable");
#endif
    } else {
#if PACKBENCH_HAVE_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env_.master_addr));
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env_.rank, env_.world_size, opts);
#else
      throw Error("this packbench was built without Gloo (install libgloo-dev and rebuild): "
                  "data parallelism on CPU is unavailable");
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {}: cannot create the process group: {}", env_.rank, e.what()));
  }
  grouped_ = true;
#else
  throw Error(fmt::format("WORLD_SIZE={} but this packbench was built without c10d", env_.world_size));
#endif
}

Distributed::~Distributed() = default;

void Distributed::run(const char* what, const std::function<void()>& f) {
  try {
    f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string m = e.what();
    if (const auto nl = m.find("\nException raised from"); nl != std::string::npos) m.resize(nl);
    throw Error(fmt::format("rank {}: {} across {} processes failed (a peer process died, hung or "
                            "was killed?): {}",
                            env_.rank, what, env_.world_size, m));
  }
}

void Distributed::all_reduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  if (!grouped_ || tensors.empty()) return;
#if PACKBENCH_HAVE_C10D
  run("gradient all-reduce", [&] {
    // Group consecutive tensors of one dtype into flat buckets.
    std::vector<std::vector<torch::Tensor>> groups;
    std::vector<torch::Tensor> flats;
    int64_t bytes = 0;
    for (const auto& t : tensors) {
      if (groups.empty() || bytes >= bucket_bytes || groups.back().front().scalar_type() != t.scalar_type()) {
        groups.emplace_back();
        bytes = 0;
      }
      groups.back().push_back(t);
      bytes += t.numel() * t.element_size();
    }
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& g : groups) {
      std::vector<torch::Tensor> parts;
      for (auto& t : g) parts.push_back(t.reshape({-1}));
      std::vector<torch::Tensor> one{torch::cat(parts)};
      flats.push_back(one[0]);
      works.push_back(impl_->pg->allreduce(one));
    }
    for (size_t i = 0; i < works.size(); ++i) {
      works[i]->wait();
      int64_t off = 0;
      for (auto& t : groups[i]) {
        t.copy_(flats[i].narrow(0, off, t.numel()).view_as(t));
        off += t.numel();
      }
    }
  });
#endif
}

std::vector<double> Distributed::all_reduce_sum(std::vector<double> values) {
  if (!grouped_ || values.empty()) return values;
#if PACKBENCH_HAVE_C10D
  run("all-reduce", [&] {
    auto t = torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64)).to(device_);
    std::vector<torch::Tensor> one{t};
    impl_->pg->allreduce(one)->wait();
    auto c = one[0].cpu();
    for (size_t i = 0; i < values.size(); ++i) values[i] = c.data_ptr<double>()[i];
  });
#endif
  return values;
}

void Distributed::reduce_scatter_sum(const torch::Tensor& flat, torch::Tensor& out) {
  const int64_t n = out.numel();
  if (flat.numel() != n * env_.world_size)
    throw Error(fmt::format("reduce-scatter: {} elements for {} ranks of {}", flat.numel(), env_.world_size, n));
  if (!grouped_) {
    out.copy_(flat.view_as(out));
    return;
  }
#if PACKBENCH_HAVE_C10D
  run("gradient reduce-scatter", [&] {
    if (device_.is_cuda()) {
      torch::Tensor in = flat.contiguous();
      impl_->pg->_reduce_scatter_base(out, in)->wait();
      return;
    }
    // Gloo has no reduce-scatter in every LibTorch this builds with: a sum of the whole buffer,
    // of which this rank keeps its part (twice the traffic of a reduce-scatter, the same result).
    std::vector<torch::Tensor> one{flat.contiguous().clone()};
    impl_->pg->allreduce(one)->wait();
    out.copy_(one[0].narrow(0, n * env_.rank, n).view_as(out));
  });
#endif
}

void Distributed::all_gather(const torch::Tensor& part, torch::Tensor& flat) {
  const int64_t n = part.numel();
  if (flat.numel() != n * env_.world_size)
    throw Error(fmt::format("all-gather: {} elements for {} ranks of {}", flat.numel(), env_.world_size, n));
  if (!grouped_) {
    flat.copy_(part.reshape({-1}));
    return;
  }
#if PACKBENCH_HAVE_C10D
  run("parameter all-gather", [&] {
    torch::Tensor in = part.reshape({-1}).contiguous();
    if (device_.is_cuda()) {
      impl_->pg->_allgather_base(flat, in)->wait();
      return;
    }
    std::vector<std::vector<torch::Tensor>> outputs(1);
    for (int r = 0; r < env_.world_size; ++r) outputs[0].push_back(flat.narrow(0, n * r, n));
    std::vector<torch::Tensor> inputs{in};
    impl_->pg->allgather(outputs, inputs)->wait();
  });
#endif
}

void Distributed::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (!grouped_) return;
#if PACKBENCH_HAVE_C10D
  run("broadcast", [&] {
    for (const auto& t : tensors) {
      std::vector<torch::Tensor> one{t.detach()};
      impl_->pg->broadcast(one)->wait();
    }
  });
#endif
}

void Distributed::barrier() {
  if (!grouped_) return;
#if PACKBENCH_HAVE_C10D
  run("barrier", [&] { impl_->pg->barrier()->wait(); });
#endif
}

}  // namespace packbench::train
