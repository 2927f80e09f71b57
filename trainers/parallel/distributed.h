// Data parallelism over c10d: torchrun-style environment, Gloo (CPU) or NCCL (CUDA build) groups.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace packbench::train {

// The torchrun variables: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT.
struct DistEnv {
  int rank = 0, world_size = 1, local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads the environment; all unset means a single process. Bad values throw packbench::Error.
DistEnv dist_env_from_environment();

// True when this build can run more than one process (Gloo headers or NCCL available).
bool distributed_supported();

class Distributed {
 public:
  // World size 1 needs no process group. Otherwise connects through a TCPStore at
  // MASTER_ADDR:MASTER_PORT (rank 0 hosts it) and builds a Gloo group (NCCL on CUDA devices);
  // `timeout` bounds every collective, so a dead or stuck peer fails the others.
  // group_when_alone: build the group (and run the collectives through it) even for one process.
  Distributed(const DistEnv& env, torch::Device device, std::chrono::milliseconds timeout,
              bool group_when_alone = false);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  const DistEnv& env() const { return env_; }

  // Sums tensors in place across ranks, flattened into buckets of about bucket_bytes each
  // (all buckets are sent before any is waited on). No-op for one process.
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes);
  // Sums doubles across ranks.
  std::vector<double> all_reduce_sum(std::vector<double> values);
  // Sums `flat` (world_size x n elements) across ranks; this rank's n-element part of the sum lands
  // in `out`. One process: out = flat.
  void reduce_scatter_sum(const torch::Tensor& flat, torch::Tensor& out);
  // Every rank's `part` (n elements) into `flat` (world_size x n), rank r's at [r n, (r+1) n).
  void all_gather(const torch::Tensor& part, torch::Tensor& flat);
  // Copies rank 0's tensors to every rank.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  void barrier();

 private:
  void run(const char* what, const std::function<void()>& f);
  DistEnv env_;
  torch::Device device_;
  bool grouped_ = false;  // a process group exists: collectives go through it
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace packbench::train
