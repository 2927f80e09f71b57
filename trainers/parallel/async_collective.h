// Asynchronous all-gather and reduce-scatter over a Distributed's process group, waited on later (ZeRO's prefetch and overlapped gradient reduction).
#pragma once

#include <torch/torch.h>

#include <memory>

namespace packbench::train {

class Distributed;

// A collective in flight. Gloo runs it on its own worker thread; NCCL (CUDA build) on a side CUDA
// stream, so compute issued meanwhile on the current stream is not ordered behind it. The tensors
// it reads or writes are kept alive by the handle and must not be touched until wait().
class AsyncCollective {
 public:
  AsyncCollective();  // nothing in flight
  AsyncCollective(AsyncCollective&&) noexcept;
  AsyncCollective& operator=(AsyncCollective&&) noexcept;
  AsyncCollective(const AsyncCollective&) = delete;
  AsyncCollective& operator=(const AsyncCollective&) = delete;
  // Waits (a failure is dropped: destruction cannot throw; call wait() to see it), unless an
  // exception is unwinding the stack.
  ~AsyncCollective();

  // Started and not yet waited on.
  bool pending() const;
  // The collective has finished by itself, without waiting (Gloo: its thread is done; NCCL: its
  // stream has passed it). True when nothing is pending.
  bool completed() const;
  // Finishes the collective. Gloo: blocks until it is done. CUDA: the current stream waits for
  // the side stream (the host does not block) and the output is recorded on the current stream,
  // so the caching allocator does not reuse it before the current stream's work on it ends.
  // A failed or timed-out collective throws packbench::Error naming it, the rank and the world
  // size. Waiting twice is a no-op.
  void wait();

  struct State;

 private:
  explicit AsyncCollective(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
  friend AsyncCollective all_gather_async(Distributed&, const torch::Tensor&, const torch::Tensor&);
  friend AsyncCollective reduce_scatter_sum_async(Distributed&, const torch::Tensor&, const torch::Tensor&);
};

// Starts gathering every rank's `part` (n elements) into `flat` (world_size x n elements), rank
// r's at [r n, (r+1) n). One process (no group): copies, already complete.
AsyncCollective all_gather_async(Distributed& dist, const torch::Tensor& part, const torch::Tensor& flat);
// Starts summing `flat` (world_size x n elements) across ranks; after wait(), `out` (n elements)
// holds this rank's part of the sum. `flat` is the collective's own from then on (Gloo sums it in
// place). One process: out = flat, already complete.
AsyncCollective reduce_scatter_sum_async(Distributed& dist, const torch::Tensor& flat, const torch::Tensor& out);

}  // namespace packbench::train
