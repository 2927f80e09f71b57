// Data parallelism over c10d: torchrun-style environment, Gloo (CPU) or NCCL (CUDA build) groups.
#include "trainers/parallel/distributed.h"

#include <fmt/format.h>

#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/error.h"
#include "trainers/parallel/async_collective.h"

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
#if PACKBENCH_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
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

namespace {

// The asynchronous collectives (async_collective.h) reach a Distributed's process group through
// this table (filled while the group exists), so distributed.h, included by most of the trainer,
// need not change.
struct AsyncGroup {
#if PACKBENCH_HAVE_C10D
  c10::intrusive_ptr<GroupBase> pg;
#endif
  int rank = 0, world_size = 1;
  torch::Device device = torch::kCPU;
#if PACKBENCH_HAVE_CUDA
  std::optional<c10::cuda::CUDAStream> side;  // the asynchronous collectives' stream (CUDA devices)
#endif
};
std::mutex g_groups_mu;
std::unordered_map<const Distributed*, std::shared_ptr<AsyncGroup>>& groups() {
  static std::unordered_map<const Distributed*, std::shared_ptr<AsyncGroup>> m;
  return m;
}

std::shared_ptr<AsyncGroup> group_of(const Distributed& d) {
  std::lock_guard<std::mutex> lock(g_groups_mu);
  const auto it = groups().find(&d);
  return it == groups().end() ? nullptr : it->second;
}

Error collective_error(int rank, int world, const char* what, const std::exception& e) {
  std::string m = e.what();
  if (const auto nl = m.find("\nException raised from"); nl != std::string::npos) m.resize(nl);
  return Error(fmt::format("rank {}: {} across {} processes failed (a peer process died, hung or "
                           "was killed?): {}",
                           rank, what, world, m));
}

}  // namespace

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
  {
    auto g = std::make_shared<AsyncGroup>();
    g->pg = impl_->pg;
    g->rank = env_.rank;
    g->world_size = env_.world_size;
    g->device = device_;
#if PACKBENCH_HAVE_CUDA
    if (device_.is_cuda()) g->side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_.index());
#endif
    std::lock_guard<std::mutex> lock(g_groups_mu);
    groups()[this] = std::move(g);
  }
#else
  throw Error(fmt::format("WORLD_SIZE={} but this packbench was built without c10d", env_.world_size));
#endif
}

Distributed::~Distributed() {
  std::lock_guard<std::mutex> lock(g_groups_mu);
  groups().erase(this);
}

void Distributed::run(const char* what, const std::function<void()>& f) {
  try {
    f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw collective_error(env_.rank, env_.world_size, what, e);
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


// ---------------------------------------------------------------------------------------------
// Asynchronous collectives (async_collective.h)

struct AsyncCollective::State {
  const char* what = "";
  int rank = 0, world_size = 1;
#if PACKBENCH_HAVE_C10D
  c10::intrusive_ptr<c10d::Work> work;
#endif
  std::vector<torch::Tensor> keep;  // what the collective reads and writes, alive until wait()
  torch::Tensor output;             // what the caller reads after wait()
  std::function<void()> finish;     // after the work is done, on the waiting thread
#if PACKBENCH_HAVE_CUDA
  std::optional<at::cuda::CUDAEvent> done;  // recorded on the side stream after the collective
#endif
  bool waited = false;
};

AsyncCollective::AsyncCollective() = default;
AsyncCollective::AsyncCollective(std::unique_ptr<State> s) : s_(std::move(s)) {}
AsyncCollective::AsyncCollective(AsyncCollective&&) noexcept = default;
AsyncCollective& AsyncCollective::operator=(AsyncCollective&& o) noexcept {
  if (this != &o) {
    try {
      wait();
    } catch (...) {
    }
    s_ = std::move(o.s_);
  }
  return *this;
}
AsyncCollective::~AsyncCollective() {
  // While an exception unwinds (a failed peer, say), waiting would only add another timeout; the
  // c10d work keeps its tensors alive by itself.
  if (std::uncaught_exceptions() > 0) return;
  try {
    wait();
  } catch (...) {
  }
}

bool AsyncCollective::pending() const { return s_ && !s_->waited; }

bool AsyncCollective::completed() const {
  if (!pending()) return true;
#if PACKBENCH_HAVE_CUDA
  if (s_->done) return s_->done->query();
#endif
#if PACKBENCH_HAVE_C10D
  if (s_->work) return s_->work->isCompleted();
#endif
  return true;
}

void AsyncCollective::wait() {
  if (!pending()) return;
  s_->waited = true;
  try {
    bool on_side = false;
#if PACKBENCH_HAVE_CUDA
    if (s_->done) {
      // The current (compute) stream waits for the side stream; the output's block is recorded on
      // it, so the caching allocator keeps it until the compute stream's use of it is done.
      const auto current = c10::cuda::getCurrentCUDAStream(s_->output.device().index());
      s_->done->block(current);
      c10::cuda::CUDACachingAllocator::recordStream(s_->output.storage().data_ptr(), current);
      on_side = true;
    }
#endif
#if PACKBENCH_HAVE_C10D
    // Gloo: blocks until its worker thread has run the collective (and rethrows its failure).
    if (s_->work && !on_side) s_->work->wait();
#endif
    (void)on_side;
    if (s_->finish) s_->finish();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw collective_error(s_->rank, s_->world_size, s_->what, e);
  }
  s_->keep.clear();
  s_->finish = nullptr;
}

namespace {

std::unique_ptr<AsyncCollective::State> new_state(const Distributed& dist, const char* what) {
  auto s = std::make_unique<AsyncCollective::State>();
  s->what = what;
  s->rank = dist.rank();
  s->world_size = dist.world_size();
  return s;
}

#if PACKBENCH_HAVE_CUDA && PACKBENCH_HAVE_C10D
// Starts a collective on the group's side stream: the side stream first waits for the work
// queued so far on the current stream (which produced the inputs); the tensors are recorded on
// the side stream; `done` marks the collective's end there.
template <typename Start>
void start_on_side_stream(AsyncGroup& g, AsyncCollective::State& s, Start&& start) {
  const auto current = c10::cuda::getCurrentCUDAStream(g.device.index());
  at::cuda::CUDAEvent ready;
  ready.record(current);
  ready.block(*g.side);
  c10::cuda::CUDAStreamGuard guard(*g.side);
  for (const auto& t : s.keep) c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), *g.side);
  s.work = start();
  s.work->wait();  // NCCL: the side stream (current here) waits for NCCL's stream; the host does not block
  s.done.emplace();
  s.done->record(*g.side);
}
#endif

}  // namespace

namespace {

// The common part of the two asynchronous collectives. `in` and `out` are the buffers the
// collective reads and writes (kept alive until wait()); `local` does its work when there is no
// process group (one process); `cuda` starts it on NCCL (on the side stream), `gloo` on Gloo.
template <typename Local, typename Cuda, typename Gloo>
std::unique_ptr<AsyncCollective::State> start_collective(Distributed& dist, const char* what, const torch::Tensor& in,
                                 const torch::Tensor& out, Local&& local, Cuda&& cuda, Gloo&& gloo) {
  auto s = new_state(dist, what);
  s->output = out;
  const std::shared_ptr<AsyncGroup> g = group_of(dist);
  if (!g) {
    local();
    s->waited = true;
    return s;
  }
#if PACKBENCH_HAVE_C10D
  try {
    s->keep = {in, out};
    if (g->device.is_cuda()) {
#if PACKBENCH_HAVE_CUDA
      start_on_side_stream(*g, *s, [&] { return cuda(*g->pg); });
#endif
    } else {
      gloo(*g->pg, *s);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw collective_error(dist.rank(), dist.world_size(), what, e);
  }
#else
  (void)cuda;
  (void)gloo;
#endif
  return s;
}

}  // namespace

AsyncCollective all_gather_async(Distributed& dist, const torch::Tensor& part, const torch::Tensor& flat) {
  const int64_t n = part.numel();
  if (flat.numel() != n * dist.world_size())
    throw Error(fmt::format("all-gather: {} elements for {} ranks of {}", flat.numel(), dist.world_size(), n));
  torch::Tensor in = part.reshape({-1}).contiguous();
  torch::Tensor out = flat;
  return AsyncCollective(start_collective(
      dist, "parameter all-gather", in, out, [&] { out.copy_(in); },
      [&](auto& pg) { return pg._allgather_base(out, in); },
      [&](auto& pg, AsyncCollective::State& s) {
        std::vector<std::vector<torch::Tensor>> outputs(1);
        for (int r = 0; r < dist.world_size(); ++r) outputs[0].push_back(out.narrow(0, n * r, n));
        std::vector<torch::Tensor> inputs{in};
        s.work = pg.allgather(outputs, inputs);
      }));
}

AsyncCollective reduce_scatter_sum_async(Distributed& dist, const torch::Tensor& flat, const torch::Tensor& out) {
  const int64_t n = out.numel();
  if (flat.numel() != n * dist.world_size())
    throw Error(fmt::format("reduce-scatter: {} elements for {} ranks of {}", flat.numel(), dist.world_size(), n));
  torch::Tensor in = flat.contiguous();
  torch::Tensor o = out;
  return AsyncCollective(start_collective(
      dist, "gradient reduce-scatter", in, o, [&] { o.copy_(in.view_as(o)); },
      [&](auto& pg) { return pg._reduce_scatter_base(o, in); },
      [&](auto& pg, AsyncCollective::State& s) {
        // As reduce_scatter_sum: Gloo sums the whole buffer (in place); this rank keeps its part.
        std::vector<torch::Tensor> one{in};
        s.work = pg.allreduce(one);
        const int64_t off = n * dist.rank();
        s.finish = [in, o, off, n]() mutable { o.copy_(in.narrow(0, off, n).view_as(o)); };
      }));
}

}  // namespace packbench::train
