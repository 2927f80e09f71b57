// Which rows each rank trains on, micro-batch by micro-batch.
#include "trainers/sampler.h"

#include <torch/torch.h>

#include <algorithm>

namespace packbench::train {

std::vector<int64_t> rank_indices(int64_t n, int world_size, int rank, uint64_t seed, int64_t epoch,
                                  bool shuffle) {
  std::vector<int64_t> order(n);
  if (shuffle && n > 0) {
    auto gen = at::detail::createCPUGenerator(seed + static_cast<uint64_t>(epoch));
    auto perm = at::randperm(n, gen, torch::TensorOptions().dtype(torch::kInt64));
    std::copy(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + n, order.begin());
  } else {
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  const int64_t total = (n + world_size - 1) / world_size * world_size;
  for (int64_t i = n; i < total; ++i) order.push_back(order[(i - n) % n]);
  std::vector<int64_t> mine;
  for (int64_t i = rank; i < total; i += world_size) mine.push_back(order[i]);
  return mine;
}

std::vector<std::vector<int64_t>> rank_micro_batches(int64_t n, int world_size, int rank, uint64_t seed,
                                                     int64_t epoch, int per_device, bool shuffle) {
  const auto mine = rank_indices(n, world_size, rank, seed, epoch, shuffle);
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < mine.size(); i += per_device)
    out.emplace_back(mine.begin() + i, mine.begin() + std::min(mine.size(), i + per_device));
  return out;
}

int64_t micro_batches_per_epoch(int64_t n, int per_device, int world_size) {
  const int64_t per_rank = (n + world_size - 1) / world_size;
  return (per_rank + per_device - 1) / per_device;
}

int64_t optimizer_steps_per_epoch(int64_t n, int per_device, int world_size, int grad_accum) {
  if (n <= 0) return 0;
  return std::max<int64_t>(micro_batches_per_epoch(n, per_device, world_size) / grad_accum, 1);
}

}  // namespace packbench::train
